// Configuration: one key = value file plus environment overrides. Keys are the
// platform's variable names (PORT, JWT_SECRET, ...) in both places. Parsed once
// at start-up; a bad value throws ConfigError whose message names the key.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/build_info.h"
#include "common/log.h"

namespace vytal {

struct ConfigKey {
  const char* name;
  const char* default_value;
  const char* help;
};

// Every key any appliance process reads; docs/CONFIG.md documents each one.
std::span<const ConfigKey> config_keys();

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using EnvLookup = std::function<const char*(const char*)>;

class Config {
 public:
  // Reads the files in order (a later file overrides an earlier one: the
  // package's appliance.conf, then the site.conf made at install), then lets
  // the environment override any key. Unknown keys in a file are an error (a
  // typo must not go unnoticed); so is a key set twice in one file, and a
  // value from the environment with a line break (a value is one line).
  static Config load(const std::vector<std::string>& paths, const EnvLookup& env);
  static Config from_text(const std::string& text, const std::string& origin, const EnvLookup& env);
  // As load(), with the files' texts given (origin, text), in order: the
  // admin page validates a settings file before it is written.
  static Config from_texts(const std::vector<std::pair<std::string, std::string>>& texts, const EnvLookup& env);

  const std::string& str(const char* key) const;
  bool is_set(const char* key) const { return !str(key).empty(); }
  int64_t integer(const char* key, int64_t min, int64_t max) const;
  bool boolean(const char* key) const;
  // Comma-separated list, items trimmed, empty items dropped.
  std::vector<std::string> list(const char* key) const;

 private:
  static Config defaults();
  void apply_text(const std::string& text, const std::string& origin);
  void apply_environment(const EnvLookup& env);

  std::map<std::string, std::string, std::less<>> values_;
};

// The daemons' command line, "[--config FILE]...", "--help" or "--version":
// reads the files (in order) and the environment, then `read` turns them into
// typed settings. --help prints the usage and --version the version line on
// standard output (exit code 0); a bad option prints one line naming it and
// the usage on standard error, and a bad value one line
// ("<program>: configuration error: <key>: ..."), both with exit code 2. In
// each of these cases it returns nullopt with the exit code to use.
template <typename Settings>
std::optional<Settings> settings_from_command_line(int argc, char** argv, const char* program, const char* usage,
                                                   Settings (*read)(const Config&), int* exit_code) {
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      paths.push_back(argv[++i]);
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      *exit_code = 0;
      return std::nullopt;
    } else if (arg == "--version") {
      std::printf("%s\n", version_line(program).c_str());
      *exit_code = 0;
      return std::nullopt;
    } else {
      std::fprintf(stderr, "%s: %s '%s'\n", program, arg == "--config" ? "missing FILE after" : "unknown option",
                   argv[i]);
      std::fputs(usage, stderr);
      *exit_code = 2;
      return std::nullopt;
    }
  }
  try {
    return read(Config::load(paths, [](const char* k) { return std::getenv(k); }));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s: configuration error: %s\n", program, e.what());
    *exit_code = 2;
    return std::nullopt;
  }
}

// Keys every process reads the same way.
LogLevel read_log_level(const Config& config);
std::string read_call_log_path(const Config& config);  // VYTAL_DATA_DIR/calls.db

}  // namespace vytal
