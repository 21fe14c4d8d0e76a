// The settings a network admin changes on the admin page (relay and external
// addresses, realm, the ICE URLs offered to clients, admin-allowed relay
// ranges, quotas, FRONTEND_URL, LOG_LEVEL), kept in a file of the
// appliance's own (VYTAL_SETTINGS_FILE, /etc/vytalwatch/admin-settings.conf:
// not the package's conffile, so upgrades keep it) that every unit reads
// after site.conf. A proposal is validated by the start-up code of each
// service that reads the keys it changes (read_signald_settings,
// turn_server_config, read_admin_settings, read_log_level), with the
// settings file replaced by the proposed text: what the page accepts, the
// services accept when they restart. Used by vytal-admin (preview) and by
// vytalctl apply-requests (again, before writing the file).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/result.h"

namespace vytal {

struct EditableSetting {
  const char* key;
  const char* label;                  // what the page calls it
  std::vector<const char*> restarts;  // the units that read it at start
};
std::span<const EditableSetting> editable_settings();
const EditableSetting* find_editable_setting(std::string_view key);

// The units vytalctl apply-requests may restart, in restart order.
std::span<const char* const> restartable_units();

using SettingsValues = std::map<std::string, std::string>;

// The settings file: editable keys only. Error "invalid_settings_file" naming
// the line otherwise.
Result<SettingsValues> parse_settings_file(const std::string& text, const std::string& origin);
std::string format_settings_file(const SettingsValues& values, const std::string& note);

struct SettingChange {
  std::string key;
  std::string before;  // the effective value now (whichever file, or the default)
  std::string after;   // the effective value once applied
};

struct SettingsProposal {
  SettingsValues file_before, file_after;  // the settings file's values
  std::vector<SettingChange> changes;      // the effective values that change
  std::vector<std::string> restarts;       // the units that must restart, in restart order
};

// `changes`: key -> new value, or nullopt to drop the key from the settings
// file (back to site.conf's value or the default). `config_files`: the
// units' --config files in order; the one equal to `settings_file` is
// replaced by the proposed text (appended when absent). Errors:
// "invalid_setting" with a message starting with the key, "not_editable",
// "settings_file" (unreadable).
Result<SettingsProposal> propose_settings(const std::vector<std::string>& config_files,
                                          const std::string& settings_file,
                                          const std::map<std::string, std::optional<std::string>>& changes,
                                          const EnvLookup& env);

// The key a ConfigError message names ("KEY: ..."), or empty.
std::string config_error_key(const std::string& message);

}  // namespace vytal
