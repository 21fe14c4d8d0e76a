// vytal-admin's settings, read once from the configuration at start-up.
#pragma once

#include <string>
#include <vector>

#include "admin_ui/connectivity_api.h"
#include "admin_ui/sessions.h"
#include "admin_ui/web_server.h"
#include "appliance_status/appliance_status.h"
#include "common/config.h"
#include "common/log.h"

namespace vytal {

struct AdminSettings {
  LogLevel log_level = LogLevel::info;
  WebServerOptions web;
  std::string admin_db_path;  // <VYTAL_DATA_DIR>/admin.db
  std::string call_log_path;  // <VYTAL_DATA_DIR>/calls.db, opened read-only
  SessionOptions sessions;
  // Origins whose POSTs are accepted besides the request's own.
  std::vector<std::string> allowed_origins;
  // Peers (nginx) whose X-Real-IP and X-Forwarded-Proto are believed.
  std::vector<std::string> trusted_proxies;
  StatusOptions status;
  HttpTarget signald_control;  // the local channel the audit outbox delivers to
  ConnectivitySettings connectivity;
  // The TURN and settings pages (turn_settings_api.h): the --config files in
  // order (re-read at each request, so the pages show what is in force),
  // the settings file and the apply spool.
  std::vector<std::string> config_files;
  std::string settings_file;    // VYTAL_SETTINGS_FILE
  std::string apply_spool_dir;  // VYTAL_APPLY_SPOOL_DIR
};

// Throws ConfigError naming the key on the first bad value.
AdminSettings read_admin_settings(const Config& config);

}  // namespace vytal
