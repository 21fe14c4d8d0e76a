#include "syncd/syncd_config.h"

namespace vytal {

SyncdSettings read_syncd_settings(const Config& config) {
  SyncdSettings s;
  s.log_level = read_log_level(config);
  s.db_path = read_call_log_path(config);

  s.pg.host = config.str("DATABASE_HOST");
  s.pg.port = std::to_string(config.integer("DATABASE_PORT", 1, 65535));
  s.pg.dbname = config.str("DATABASE_NAME");
  s.pg.user = config.str("DATABASE_USER");
  s.pg.password = config.str("DATABASE_PASSWORD");
  s.pg.sslmode = config.str("DATABASE_SSLMODE");
  s.pg.sslrootcert = config.str("DATABASE_SSLROOTCERT");
  const std::string& mode = s.pg.sslmode;
  if (mode != "disable" && mode != "allow" && mode != "prefer" && mode != "require" && mode != "verify-ca" &&
      mode != "verify-full")
    throw ConfigError("DATABASE_SSLMODE: expected disable, require, verify-ca or verify-full, got '" + mode + "'");
  if (s.pg.host.empty()) throw ConfigError("DATABASE_HOST: must name the central PostgreSQL");
  if (s.pg.dbname.empty()) throw ConfigError("DATABASE_NAME: must not be empty");

  s.sync.site_id = config.str("VYTAL_SITE_ID");
  if (s.sync.site_id.empty() || s.sync.site_id.size() > 64)
    throw ConfigError("VYTAL_SITE_ID: required, the id of this site (at most 64 characters)");
  for (char c : s.sync.site_id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      throw ConfigError("VYTAL_SITE_ID: use letters, digits, '-', '_' and '.' only");
  s.sync.batch_rows = static_cast<int>(config.integer("VYTAL_SYNC_BATCH_ROWS", 1, 100000));
  const std::string& method = config.str("VYTAL_SYNC_METHOD");
  if (method != "copy" && method != "insert")
    throw ConfigError("VYTAL_SYNC_METHOD: expected copy or insert, got '" + method + "'");
  s.sync.use_copy = method == "copy";
  s.sync.poll_ms = static_cast<int>(config.integer("VYTAL_SYNC_POLL_MS", 10, 60000));
  s.sync.backoff_max_s = static_cast<int>(config.integer("VYTAL_SYNC_BACKOFF_MAX_SECONDS", 1, 3600));
  s.sync.retention_days = static_cast<int>(config.integer("VYTAL_SYNC_RETENTION_DAYS", 0, 36500));
  s.metrics_address = config.str("VYTAL_BIND_ADDRESS");
  s.metrics_port = static_cast<int>(config.integer("VYTAL_SYNC_METRICS_PORT", 0, 65535));
  return s;
}

}  // namespace vytal
