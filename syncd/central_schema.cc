#include "syncd/central_schema.h"

#include <string>
#include <vector>

#include "call_log/sync_tables.h"

namespace vytal {
namespace {

// Any fixed number: the key of the session-wide migration lock.
constexpr const char* kLockKey = "735560811";

// Migration 1: the call-log tables (columns from sync_tables(), plus the
// site that wrote each row and when it arrived), the platform's indexes, and
// the sync bookkeeping. No foreign keys: a participant row may arrive in an
// earlier batch than the last update of its call.
std::string initial_schema() {
  std::string sql;
  for (const SyncTable& t : sync_tables()) {
    sql += std::string("CREATE TABLE ") + t.name + " (\n";
    for (const SyncColumn& c : t.columns) {
      sql += std::string("  ") + c.name + " " + pg_type(c.type);
      if (std::string(c.name) == "id") sql += " PRIMARY KEY";
      if (std::string(c.name) == "version" || std::string(c.name) == "created_at" ||
          std::string(c.name) == "updated_at")
        sql += " NOT NULL";
      sql += ",\n";
    }
    sql += "  site_id text NOT NULL,\n  synced_at timestamptz NOT NULL DEFAULT clock_timestamp()\n);\n";
  }
  sql += R"sql(
CREATE INDEX idx_calls_patient_created ON calls(patient_id, created_at);
CREATE INDEX idx_calls_provider_created ON calls(provider_id, created_at);
CREATE INDEX idx_calls_status_scheduled ON calls(status, scheduled_at);
CREATE INDEX idx_calls_appointment ON calls(appointment_id);
CREATE INDEX idx_calls_site_created ON calls(site_id, created_at);
CREATE INDEX idx_participants_call_user ON call_participants(call_id, user_id);
CREATE INDEX idx_participants_call_status ON call_participants(call_id, status);
CREATE INDEX idx_recordings_call_status ON call_recordings(call_id, status);
CREATE INDEX idx_recordings_created ON call_recordings(created_at);
CREATE INDEX idx_events_call ON call_events(call_id, occurred_at);
CREATE INDEX idx_audit_occurred ON audit_log(occurred_at);
CREATE INDEX idx_quality_call ON call_quality_samples(call_id, sampled_at);
CREATE INDEX idx_turn_usage_call ON turn_usage(call_id);
CREATE INDEX idx_turn_usage_site_started ON turn_usage(site_id, started_at);

-- How far each site's changes have arrived (its call log's change_seq),
-- committed in the same transaction as the rows.
CREATE TABLE sync_state (
  site_id     text PRIMARY KEY,
  high_water  bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Rows PostgreSQL refused for their content: kept out of the way, reported.
CREATE TABLE sync_parked (
  site_id     text NOT NULL,
  table_name  text NOT NULL,
  row_id      text NOT NULL,
  change_seq  bigint NOT NULL,
  error       text NOT NULL,
  row_data    jsonb,
  parked_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (site_id, table_name, row_id, change_seq)
);
)sql";
  return sql;
}

struct CentralMigration {
  int version;
  const char* name;
  std::string sql;
};

}  // namespace

Result<int> apply_central_migrations(PgSession& pg) {
  const std::vector<CentralMigration> migrations = {{1, "initial central schema", initial_schema()}};
  auto begin = pg.exec(std::string("BEGIN; SELECT pg_advisory_xact_lock(") + kLockKey +
                       "); CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT "
                       "NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  if (!begin) return begin.error();
  auto current = pg.exec_params("SELECT coalesce(max(version), 0) FROM schema_migrations", {});
  if (!current) {
    pg.exec("ROLLBACK");
    return current.error();
  }
  int have = std::atoi(PQgetvalue(current.value().get(), 0, 0));
  int applied = 0;
  for (const CentralMigration& m : migrations) {
    if (m.version <= have) continue;
    auto ran = pg.exec(m.sql);
    std::string v = std::to_string(m.version);
    auto recorded =
        ran ? pg.exec_params("INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", {v.c_str(), m.name})
            : Result<PgResultPtr>(ran.error());
    if (!recorded) {
      pg.exec("ROLLBACK");
      return Error{recorded.error().code, "central migration " + v + " (" + m.name + "): " + recorded.error().message};
    }
    ++applied;
  }
  auto commit = pg.exec("COMMIT");
  if (!commit) return commit.error();
  return applied;
}

}  // namespace vytal
