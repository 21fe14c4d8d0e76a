// vytalctl: the admin's command line: development tokens and TURN
// credentials, vytal-turnserver's generated configuration, TURN secret
// rotation, and the call log's migrations (run by the package on upgrade).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "call_log/schema.h"
#include "common/atomic_file.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/jwt.h"
#include "common/key_ring.h"
#include "common/sqlite.h"
#include "common/turn_credentials.h"
#include "vytalctl/turn_config.h"

namespace {

const char kUsage[] =
    "usage: vytalctl [--config FILE]... COMMAND [options]\n"
    "commands:\n"
    "  dev-token --sub ID --role patient|provider|admin|service [--ttl SECONDS]\n"
    "      print an HS256 JWT signed with JWT_SECRET (development and testing)\n"
    "  turn-credential --user ID [--ttl SECONDS]\n"
    "      print a TURN REST username and password signed with the current TURN secret\n"
    "  turn-config [--output FILE]\n"
    "      print (or write to FILE, mode 0640) vytal-turnserver's configuration, generated with safe relay\n"
    "      defaults\n"
    "  migrate\n"
    "      create the call log in VYTAL_DATA_DIR or bring its schema up to date; print the schema version\n"
    "  rotate-turn-secret [--overlap SECONDS]\n"
    "      make a new current secret in VYTAL_TURN_KEYRING_FILE (creating it if needed); the old one is\n"
    "      still accepted for the overlap (VYTAL_TURN_ROTATION_OVERLAP_SECONDS), so calls in progress go on.\n"
    "      signald and the TURN plugin pick it up within a second, without a restart.\n";

int usage() {
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vytal;
  std::vector<std::string> config_paths;
  std::string command, sub, role, user, output;
  long ttl = -1;
  long overlap = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--config" && has_value)
      config_paths.push_back(argv[++i]);
    else if (a == "--sub" && has_value)
      sub = argv[++i];
    else if (a == "--role" && has_value)
      role = argv[++i];
    else if (a == "--user" && has_value)
      user = argv[++i];
    else if (a == "--ttl" && has_value)
      ttl = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--output" && has_value)
      output = argv[++i];
    else if (a == "--overlap" && has_value)
      overlap = std::strtol(argv[++i], nullptr, 10);
    else if (command.empty() && a[0] != '-')
      command = a;
    else
      return usage();
  }
  Config config;
  try {
    config = Config::load(config_paths, [](const char* k) { return std::getenv(k); });
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "vytalctl: configuration error: %s\n", e.what());
    return 2;
  }
  int64_t now = std::time(nullptr);
  // A command's configuration error (a bad or missing key) is one line, exit 2.
  try {
    if (command == "dev-token") {
      if (sub.empty() || role.empty()) return usage();
      if (!config.is_set("JWT_SECRET")) {
        std::fputs("vytalctl: JWT_SECRET: not set\n", stderr);
        return 2;
      }
      JsonPtr claims(json_object());
      json_put(claims.get(), "sub", json_str(sub));
      json_put(claims.get(), "role", json_str(role));
      json_put(claims.get(), "iat", json_integer(now));
      json_put(claims.get(), "exp", json_integer(now + (ttl > 0 ? ttl : 3600)));
      if (config.is_set("JWT_AUDIENCE")) json_put(claims.get(), "aud", json_str(config.str("JWT_AUDIENCE")));
      if (config.is_set("JWT_ISSUER")) json_put(claims.get(), "iss", json_str(config.str("JWT_ISSUER")));
      std::printf("%s\n", jwt_sign_hs256(config.str("JWT_SECRET"), claims.get()).c_str());
      return 0;
    }
    if (command == "turn-config") {
      std::string text = turn_server_config(config);
      if (output.empty()) {
        std::fputs(text.c_str(), stdout);
        return 0;
      }
      std::string error;
      if (!write_file_atomically(output, text, 0640, &error)) {
        std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
        return 1;
      }
      return 0;
    }
    if (command == "migrate") {
      std::string path = read_call_log_path(config);
      auto db = sqlite_open(path, SqliteOpenOptions{});
      if (!db) {
        std::fprintf(stderr, "vytalctl: call log %s: %s\n", path.c_str(), db.error().message.c_str());
        return 1;
      }
      auto applied = apply_migrations(db.value().get(), call_log_migrations(), now * 1000);
      if (!applied) {
        std::fprintf(stderr, "vytalctl: call log %s: %s\n", path.c_str(), applied.error().message.c_str());
        return 1;
      }
      std::printf("call log %s: schema version %d (%d migration(s) applied)\n", path.c_str(),
                  schema_version(db.value().get()), applied.value());
      return 0;
    }
    if (command == "rotate-turn-secret") {
      const std::string& path = config.str("VYTAL_TURN_KEYRING_FILE");
      if (path.empty()) {
        std::fputs("vytalctl: VYTAL_TURN_KEYRING_FILE: not set\n", stderr);
        return 2;
      }
      std::string error;
      KeyRing ring;
      if (auto old = read_key_ring(path, &error)) {
        ring.previous = old->current;
        ring.previous_until_s =
            now + (overlap >= 0 ? overlap : config.integer("VYTAL_TURN_ROTATION_OVERLAP_SECONDS", 0, 30 * 86400));
      }
      ring.current = base64url_encode(random_bytes(32));
      if (!write_key_ring(path, ring, &error)) {
        std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
        return 1;
      }
      std::printf("rotated %s: the previous secret is accepted until %lld\n", path.c_str(),
                  static_cast<long long>(ring.previous_until_s));
      return 0;
    }
    if (command == "turn-credential") {
      if (user.empty()) return usage();
      std::string secret = config.str("TURN_SHARED_SECRET");
      if (config.is_set("VYTAL_TURN_KEYRING_FILE")) {
        std::string error;
        auto ring = read_key_ring(config.str("VYTAL_TURN_KEYRING_FILE"), &error);
        if (!ring) {
          std::fprintf(stderr, "vytalctl: VYTAL_TURN_KEYRING_FILE: %s\n", error.c_str());
          return 2;
        }
        secret = ring->current;
      }
      if (secret.empty()) {
        std::fputs("vytalctl: TURN_SHARED_SECRET: not set\n", stderr);
        return 2;
      }
      TurnCredential c = mint_turn_credential(secret, user, now,
                                              ttl > 0 ? ttl : config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400));
      std::printf("username=%s\npassword=%s\n", c.username.c_str(), c.credential.c_str());
      return 0;
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "vytalctl: configuration error: %s\n", e.what());
    return 2;
  }
  return usage();
}
