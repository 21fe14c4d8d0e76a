#include "common/config.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "common/files.h"

namespace vytal {
namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

const ConfigKey* find_key(std::string_view name) {
  for (const ConfigKey& k : config_keys())
    if (name == k.name) return &k;
  return nullptr;
}

}  // namespace

void Config::apply_text(const std::string& text, const std::string& origin) {
  std::istringstream in(text);
  std::string line;
  std::map<std::string, int, std::less<>> seen;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    std::string where = origin + ":" + std::to_string(lineno);
    if (eq == std::string::npos) throw ConfigError(where + ": expected KEY = value");
    std::string key = trim(std::string_view(t).substr(0, eq));
    std::string value = trim(std::string_view(t).substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (!find_key(key)) throw ConfigError(key + ": unknown configuration key (" + where + ")");
    if (seen.count(key)) throw ConfigError(key + ": set twice (" + where + ")");
    seen[key] = lineno;
    values_[key] = value;
  }
}

void Config::apply_environment(const EnvLookup& env) {
  for (const ConfigKey& k : config_keys()) {
    const char* v = env(k.name);
    if (!v) continue;
    std::string value = trim(v);
    // A value is one line, as in a file: vytalctl writes some into the TURN
    // server's configuration, where a line break would start a directive.
    if (value.find('\n') != std::string::npos)
      throw ConfigError(std::string(k.name) + ": the environment's value has a line break");
    values_[k.name] = std::move(value);
  }
}

Config Config::defaults() {
  Config c;
  for (const ConfigKey& k : config_keys()) c.values_[k.name] = k.default_value;
  return c;
}

Config Config::from_text(const std::string& text, const std::string& origin, const EnvLookup& env) {
  Config c = defaults();
  c.apply_text(text, origin);
  c.apply_environment(env);
  return c;
}

Config Config::from_texts(const std::vector<std::pair<std::string, std::string>>& texts, const EnvLookup& env) {
  Config c = defaults();
  for (const auto& [origin, text] : texts) c.apply_text(text, origin);
  c.apply_environment(env);
  return c;
}

Config Config::load(const std::vector<std::string>& paths, const EnvLookup& env) {
  Config c = defaults();
  for (const std::string& path : paths) {
    std::string why;
    auto text = read_file(path, &why);
    if (!text) throw ConfigError("config file " + why);
    c.apply_text(*text, path);
  }
  c.apply_environment(env);
  return c;
}

const std::string& Config::str(const char* key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw ConfigError(std::string(key) + ": not a known key (programming error)");
  return it->second;
}

int64_t Config::integer(const char* key, int64_t min, int64_t max) const {
  const std::string& v = str(key);
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE || n < min || n > max)
    throw ConfigError(std::string(key) + ": expected an integer from " + std::to_string(min) + " to " +
                      std::to_string(max) + ", got '" + v + "'");
  return n;
}

bool Config::boolean(const char* key) const {
  const std::string& v = str(key);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw ConfigError(std::string(key) + ": expected true or false, got '" + v + "'");
}

std::vector<std::string> Config::list(const char* key) const {
  std::vector<std::string> out;
  std::string_view v = str(key);
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string item = trim(v.substr(0, comma));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return out;
}

LogLevel read_log_level(const Config& config) {
  auto level = parse_log_level(config.str("LOG_LEVEL"));
  if (!level)
    throw ConfigError("LOG_LEVEL: expected debug, info, warn or error, got '" + config.str("LOG_LEVEL") + "'");
  return *level;
}

std::string read_call_log_path(const Config& config) {
  const std::string& dir = config.str("VYTAL_DATA_DIR");
  if (dir.empty()) throw ConfigError("VYTAL_DATA_DIR: must name the directory of the call log");
  return dir + "/calls.db";
}

}  // namespace vytal
