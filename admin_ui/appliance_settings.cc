#include "admin_ui/appliance_settings.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "admin_ui/admin_config.h"
#include "common/files.h"
#include "signald/signald_config.h"
#include "turn_policy/turn_server_config.h"

namespace vytal {
namespace {

constexpr const char* kSignald = "vytal-signald.service";
constexpr const char* kTurn = "vytal-turnserver.service";
constexpr const char* kSyncd = "vytal-syncd.service";
constexpr const char* kAdmin = "vytal-admin.service";

const EditableSetting kEditable[] = {
    {"VYTAL_TURN_RELAY_IPS", "Relay addresses", {kTurn}},
    {"VYTAL_TURN_EXTERNAL_IP", "External (NAT) address", {kTurn}},
    {"VYTAL_TURN_REALM", "TURN realm", {kTurn}},
    {"WEBRTC_TURN_SERVERS", "TURN URLs offered to clients", {kSignald}},
    {"WEBRTC_STUN_SERVERS", "STUN URLs offered to clients", {kSignald}},
    {"VYTAL_TURN_ALLOWED_PEER_RANGES", "Admin-allowed relay ranges", {kTurn}},
    {"VYTAL_TURN_USER_QUOTA", "Allocations per user", {kTurn}},
    {"VYTAL_TURN_TOTAL_QUOTA", "Allocations in all", {kTurn, kSignald}},
    {"FRONTEND_URL", "Platform origins (FRONTEND_URL)", {kSignald}},
    {"LOG_LEVEL", "Log level", {kSignald, kSyncd, kAdmin}},
};

// Restart order: the TURN server first (its configuration is generated at
// start), the admin page last (the page that asked loses its server).
constexpr const char* kUnits[] = {kTurn, kSignald, kSyncd, kAdmin};

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

}  // namespace

std::span<const EditableSetting> editable_settings() { return kEditable; }
std::span<const char* const> restartable_units() { return kUnits; }

const EditableSetting* find_editable_setting(std::string_view key) {
  for (const EditableSetting& s : kEditable)
    if (key == s.key) return &s;
  return nullptr;
}

std::string config_error_key(const std::string& message) {
  size_t colon = message.find(':');
  if (colon == std::string::npos) return {};
  std::string key = message.substr(0, colon);
  bool ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
  return ok ? key : std::string();
}

Result<SettingsValues> parse_settings_file(const std::string& text, const std::string& origin) {
  SettingsValues out;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    std::string where = origin + ":" + std::to_string(n);
    if (eq == std::string::npos) return Error{"invalid_settings_file", where + ": expected KEY = value"};
    std::string key = trim(std::string_view(t).substr(0, eq));
    std::string value = trim(std::string_view(t).substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (!find_editable_setting(key))
      return Error{"invalid_settings_file", where + ": " + key + " is not a setting of the admin page"};
    out[key] = value;
  }
  return out;
}

std::string format_settings_file(const SettingsValues& values, const std::string& note) {
  std::string o =
      "# The appliance's settings changed on the admin page (vytal-admin), written by\n"
      "# vytalctl apply-requests. Read by every service after appliance.conf and\n"
      "# site.conf: a key here wins. Kept on upgrade and removed on purge.\n";
  if (!note.empty()) o += "# " + note + "\n";
  o += "\n";
  for (const EditableSetting& s : kEditable)  // in the page's order
    if (auto it = values.find(s.key); it != values.end()) o += std::string(s.key) + " = " + it->second + "\n";
  return o;
}

Result<SettingsProposal> propose_settings(const std::vector<std::string>& config_files,
                                          const std::string& settings_file,
                                          const std::map<std::string, std::optional<std::string>>& changes,
                                          const EnvLookup& env) {
  SettingsProposal p;
  std::vector<std::pair<std::string, std::string>> before_texts, after_texts;
  bool seen = false;
  for (const std::string& path : config_files) {
    std::string why;
    auto text = read_file(path, &why);
    if (!text) return Error{"settings_file", why};
    if (path == settings_file) {
      seen = true;
      auto values = parse_settings_file(*text, path);
      if (!values) return values.error();
      p.file_before = values.value();
    }
    before_texts.emplace_back(path, *text);
  }
  if (!seen) before_texts.emplace_back(settings_file, "");
  p.file_after = p.file_before;
  std::set<std::string> units;
  for (const auto& [key, value] : changes) {
    const EditableSetting* s = find_editable_setting(key);
    if (!s) return Error{"not_editable", key + ": not a setting the admin page changes"};
    if (value &&
        (value->find_first_of("\r\n") != std::string::npos || value->size() > 4096 ||
         std::any_of(value->begin(), value->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })))
      return Error{"invalid_setting", key + ": one line of printable text, at most 4096 bytes"};
    if (value)
      p.file_after[key] = trim(*value);
    else
      p.file_after.erase(key);
  }
  for (auto& [origin, text] : before_texts)
    after_texts.emplace_back(origin, origin == settings_file ? format_settings_file(p.file_after, "") : text);

  Config before = Config::from_texts({}, env);
  try {
    before = Config::from_texts(before_texts, env);
  } catch (const ConfigError& e) {
    return Error{"invalid_setting", e.what()};  // the current files are already wrong
  }
  Config after = before;
  try {
    after = Config::from_texts(after_texts, env);
  } catch (const ConfigError& e) {
    return Error{"invalid_setting", e.what()};
  }
  for (const auto& [key, value] : changes)
    if (value && after.str(key.c_str()) != trim(*value))
      return Error{"invalid_setting", key +
                                          ": set in the services' environment or a later --config file, which "
                                          "overrides the settings file; change it there"};
  for (const EditableSetting& s : kEditable) {
    if (before.str(s.key) == after.str(s.key)) continue;
    p.changes.push_back({s.key, before.str(s.key), after.str(s.key)});
    for (const char* unit : s.restarts) units.insert(unit);
  }
  // Each unit that reads a changed key checks the new configuration with its
  // own start-up code.
  try {
    if (units.count(kSignald)) read_signald_settings(after);
    if (units.count(kTurn)) turn_server_config(after);
    if (units.count(kAdmin)) read_admin_settings(after);
    read_log_level(after);
  } catch (const ConfigError& e) {
    return Error{"invalid_setting", e.what()};
  }
  for (const char* unit : kUnits)
    if (units.count(unit)) p.restarts.emplace_back(unit);
  return p;
}

}  // namespace vytal
