// vytal-syncd's settings, read once from the configuration at start-up.
#pragma once

#include <string>

#include "common/config.h"
#include "common/log.h"
#include "syncd/pg_session.h"
#include "syncd/sync_worker.h"

namespace vytal {

struct SyncdSettings {
  LogLevel log_level = LogLevel::info;
  std::string db_path;  // the call log
  PgOptions pg;
  SyncOptions sync;
  std::string metrics_address;
  int metrics_port = 9102;
};

// Throws ConfigError naming the key on the first bad value.
SyncdSettings read_syncd_settings(const Config& config);

}  // namespace vytal
