// The configuration: Config::from_text over a file's text and an
// environment, then what each program makes of it: read_signald_settings,
// read_syncd_settings, and vytalctl's generated TURN server configuration
// (turn_server_config). Each gives a value or throws ConfigError; anything
// else (another exception, a sanitizer finding) is a bug.
//
// Input: the file's text; after a NUL, the environment as NUL-separated
// KEY=VALUE entries (values may hold any byte but NUL, as real ones can).
//
// No value may hold a line break (vytalctl writes values into the TURN
// server's configuration one per line: a line of its own would be a
// directive coturn obeys). When the TURN configuration is generated, its
// "plugin-config" line, read the way the plugin reads it (items split at
// ';', key and value at the first '='), must give back the key ring,
// revocation and usage paths configured.
//
// The key files the settings may name are made at start-up in
// /tmp/vytal-config-fuzz/ (the dictionary names them); inputs that name
// anything under /dev, /proc or /sys are skipped (a read of /dev/zero never
// ends).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/handles.h"
#include "signald/signald_config.h"
#include "syncd/syncd_config.h"
#include "turn_policy/turn_server_config.h"

namespace vytal {
namespace {

constexpr char kDir[] = "/tmp/vytal-config-fuzz";

void write(const std::string& name, const std::string& text) { std::ofstream(std::string(kDir) + "/" + name) << text; }

std::string public_pem(EVP_PKEY* raw) {
  EvpPkeyPtr key(raw);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!key || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

void set_up() {
  ::mkdir(kDir, 0700);
  write("keyring", "# vytal TURN key ring\ncurrent abc\nprevious def 1700000000\n");
  write("keyring-bad", "current\n");
  write("ec.pem", public_pem(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")));
  write("rsa.pem", public_pem(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})));
  write("rsa1024.pem", public_pem(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024})));
  write("not.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
}

[[noreturn]] void fail(const std::string& why, std::string_view input) {
  std::fprintf(stderr, "config_fuzz: %s\n--- input ---\n%.*s\n---\n", why.c_str(), static_cast<int>(input.size()),
               input.data());
  std::abort();
}

// The plugin's reading of its plugin-config (turn_plugin/plugin.cc).
std::map<std::string, std::string> plugin_items(const std::string& config) {
  std::map<std::string, std::string> out;
  std::istringstream in(config);
  std::string item;
  while (std::getline(in, item, ';')) {
    size_t eq = item.find('=');
    out[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
  }
  return out;
}

// A value is one line, wherever it came from (vytalctl writes values into
// the TURN server's configuration one per line).
void check_values(const Config& config, std::string_view input) {
  for (const ConfigKey& k : config_keys())
    if (config.str(k.name).find('\n') != std::string::npos)
      fail(std::string(k.name) + "'s value has a line break", input);
}

void check_turn_config(const Config& config, const std::string& generated, std::string_view input) {
  std::istringstream lines(generated);
  std::string line, plugin_config;
  int plugin_config_lines = 0;
  while (std::getline(lines, line)) {
    if (line.starts_with("plugin-config=")) {
      ++plugin_config_lines;
      plugin_config = line.substr(14);
    }
  }
  if (plugin_config_lines != 1) fail("plugin-config appears " + std::to_string(plugin_config_lines) + " times", input);
  auto items = plugin_items(plugin_config);
  auto expect = [&](const char* item, const char* key) {
    const std::string& want = config.str(key);
    auto it = items.find(item);
    std::string got = it == items.end() ? "" : it->second;
    if (got != want)
      fail(std::string("plugin-config's ") + item + " is '" + got + "', " + key + " is '" + want + "'", input);
  };
  expect("keyring", "VYTAL_TURN_KEYRING_FILE");
  expect("revoked", "VYTAL_TURN_REVOKED_FILE");
  expect("usage", "VYTAL_TURN_USAGE_SOCKET");
}

}  // namespace
}  // namespace vytal

using namespace vytal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool ready = (set_up(), true);
  (void)ready;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (std::string_view forbidden : {"/dev", "/proc", "/sys"})
    if (input.find(forbidden) != std::string_view::npos) return -1;
  size_t nul = input.find('\0');
  std::string text(input.substr(0, nul));
  std::map<std::string, std::string> env;
  while (nul != std::string_view::npos) {
    size_t start = nul + 1;
    nul = input.find('\0', start);
    std::string_view entry = input.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start);
    size_t eq = entry.find('=');
    if (eq != std::string_view::npos) env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  EnvLookup lookup = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  try {
    Config config = Config::from_text(text, "fuzz.conf", lookup);
    check_values(config, input);
    try {
      read_signald_settings(config);
    } catch (const ConfigError&) {
    }
    try {
      read_syncd_settings(config);
    } catch (const ConfigError&) {
    }
    try {
      check_turn_config(config, turn_server_config(config), input);
    } catch (const ConfigError&) {
    }
  } catch (const ConfigError&) {
  }
  return 0;
}
