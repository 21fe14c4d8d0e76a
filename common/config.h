// Configuration: one key = value file plus environment overrides. Keys are the
// platform's variable names (PORT, JWT_SECRET, ...) in both places. Parsed once
// at start-up; a bad value throws ConfigError whose message names the key.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

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
  // Reads `path` when it is not empty, then lets the environment override any
  // key. Unknown keys in the file are an error (a typo must not go unnoticed).
  static Config load(const std::string& path, const EnvLookup& env);
  static Config from_text(const std::string& text, const std::string& origin, const EnvLookup& env);

  const std::string& str(const char* key) const;
  bool is_set(const char* key) const { return !str(key).empty(); }
  int64_t integer(const char* key, int64_t min, int64_t max) const;
  bool boolean(const char* key) const;
  // Comma-separated list, items trimmed, empty items dropped.
  std::vector<std::string> list(const char* key) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace vytal
