#include "call_log/schema.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "call_log/sync_tables.h"

namespace vytal {
namespace {

// Migration 1: the platform's tables and indexes (names as in its guide),
// plus the timeline and the audit log.
constexpr const char* kInitialSchema = R"sql(
CREATE TABLE calls (
  id             TEXT PRIMARY KEY,
  patient_id     TEXT NOT NULL,
  provider_id    TEXT NOT NULL,
  appointment_id TEXT,
  type           TEXT NOT NULL CHECK (type IN ('video', 'audio')),
  status         TEXT NOT NULL CHECK (status IN ('scheduled', 'active', 'ended', 'missed', 'cancelled', 'failed')),
  scheduled_at   INTEGER,
  started_at     INTEGER,
  ended_at       INTEGER,
  duration_ms    INTEGER,
  end_reason     TEXT,
  created_by     TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  version        INTEGER NOT NULL,
  change_seq     INTEGER NOT NULL
);
CREATE INDEX idx_calls_patient_created ON calls(patient_id, created_at);
CREATE INDEX idx_calls_provider_created ON calls(provider_id, created_at);
CREATE INDEX idx_calls_status_scheduled ON calls(status, scheduled_at);
CREATE INDEX idx_calls_appointment ON calls(appointment_id);
CREATE INDEX idx_calls_created ON calls(created_at, id);
CREATE UNIQUE INDEX idx_calls_change_seq ON calls(change_seq);

CREATE TABLE call_participants (
  id          TEXT PRIMARY KEY,
  call_id     TEXT NOT NULL REFERENCES calls(id),
  user_id     TEXT NOT NULL,
  role        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('invited', 'joined', 'reconnecting', 'left', 'removed')),
  invited_by  TEXT,
  joined_at   INTEGER,
  left_at     INTEGER,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  version     INTEGER NOT NULL,
  change_seq  INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_participants_call_user ON call_participants(call_id, user_id);
CREATE INDEX idx_participants_call_status ON call_participants(call_id, status);
CREATE INDEX idx_participants_user ON call_participants(user_id, call_id);
CREATE UNIQUE INDEX idx_participants_change_seq ON call_participants(change_seq);

CREATE TABLE call_recordings (
  id          TEXT PRIMARY KEY,
  call_id     TEXT NOT NULL REFERENCES calls(id),
  status      TEXT NOT NULL,
  storage_key TEXT,
  size_bytes  INTEGER,
  duration_ms INTEGER,
  started_at  INTEGER,
  ended_at    INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  version     INTEGER NOT NULL,
  change_seq  INTEGER NOT NULL
);
CREATE INDEX idx_recordings_call_status ON call_recordings(call_id, status);
CREATE INDEX idx_recordings_created ON call_recordings(created_at);
CREATE UNIQUE INDEX idx_recordings_change_seq ON call_recordings(change_seq);

CREATE TABLE call_events (
  id          TEXT PRIMARY KEY,
  call_id     TEXT NOT NULL REFERENCES calls(id),
  type        TEXT NOT NULL,
  actor_id    TEXT,
  detail      TEXT,
  occurred_at INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  version     INTEGER NOT NULL,
  change_seq  INTEGER NOT NULL
);
CREATE INDEX idx_events_call ON call_events(call_id, occurred_at);
CREATE UNIQUE INDEX idx_events_change_seq ON call_events(change_seq);

CREATE TABLE audit_log (
  id          TEXT PRIMARY KEY,
  occurred_at INTEGER NOT NULL,
  actor_id    TEXT NOT NULL,
  actor_role  TEXT NOT NULL,
  action      TEXT NOT NULL,
  outcome     TEXT NOT NULL,
  call_id     TEXT,
  remote_addr TEXT,
  detail      TEXT,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  version     INTEGER NOT NULL,
  change_seq  INTEGER NOT NULL
);
CREATE INDEX idx_audit_occurred ON audit_log(occurred_at);
CREATE UNIQUE INDEX idx_audit_change_seq ON audit_log(change_seq);

-- /readyz proves the call log is writable by committing here.
CREATE TABLE readiness_probe (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at INTEGER NOT NULL
);
)sql";

// Migration 2: quality reports from the browsers (getStats), sampled.
constexpr const char* kQualitySamples = R"sql(
CREATE TABLE call_quality_samples (
  id                   TEXT PRIMARY KEY,
  call_id              TEXT NOT NULL REFERENCES calls(id),
  user_id              TEXT NOT NULL,
  rtt_ms               INTEGER,
  jitter_ms            INTEGER,
  packet_loss_permille INTEGER,
  bitrate_kbps         INTEGER,
  sampled_at           INTEGER NOT NULL,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  version              INTEGER NOT NULL,
  change_seq           INTEGER NOT NULL
);
CREATE INDEX idx_quality_call ON call_quality_samples(call_id, sampled_at);
CREATE UNIQUE INDEX idx_quality_change_seq ON call_quality_samples(change_seq);
)sql";

// Migration 3: vytal-syncd's local bookkeeping. sync_state mirrors the
// high-water mark PostgreSQL confirmed (retention never prunes above it);
// sync_parked lists rows PostgreSQL refused for their content.
constexpr const char* kSyncState = R"sql(
CREATE TABLE sync_state (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  high_water INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE sync_parked (
  table_name TEXT NOT NULL,
  row_id     TEXT NOT NULL,
  change_seq INTEGER NOT NULL,
  error      TEXT NOT NULL,
  parked_at  INTEGER NOT NULL,
  PRIMARY KEY (table_name, row_id, change_seq)
);
)sql";

// Migration 4: TURN usage, one row per relay allocation, updated as the TURN
// server reports it (the plugin of turn_plugin/ writes it through signald).
constexpr const char* kTurnUsage = R"sql(
CREATE TABLE turn_usage (
  id               TEXT PRIMARY KEY,
  call_id          TEXT,
  user_id          TEXT NOT NULL,
  turn_username    TEXT NOT NULL,
  relay_address    TEXT,
  transport        TEXT,
  state            TEXT NOT NULL CHECK (state IN ('active', 'closed', 'refused')),
  started_at       INTEGER NOT NULL,
  ended_at         INTEGER,
  bytes_sent       INTEGER NOT NULL DEFAULT 0,
  bytes_received   INTEGER NOT NULL DEFAULT 0,
  packets_sent     INTEGER NOT NULL DEFAULT 0,
  packets_received INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  version          INTEGER NOT NULL,
  change_seq       INTEGER NOT NULL
);
CREATE INDEX idx_turn_usage_call ON turn_usage(call_id);
CREATE INDEX idx_turn_usage_user_started ON turn_usage(user_id, started_at);
CREATE UNIQUE INDEX idx_turn_usage_change_seq ON turn_usage(change_seq);
)sql";

// Migration 5: the admin page's call-log search by status, newest first
// (vytal-admin, issue 12): without it a rare status (failed) is found only by
// walking every call's (created_at, id) entry.
constexpr const char* kStatusCreatedIndex = R"sql(
CREATE INDEX idx_calls_status_created ON calls(status, created_at, id);
)sql";

// Migration 6: two of the platform's indexes that no query of the appliance
// reads (nothing here looks calls up by appointment or by status and
// scheduled time; the status queries use migration 5's index). Each cost an
// insert on every create and a move on every status change. PostgreSQL,
// where the platform's queries run, keeps both (syncd/central_schema.cc).
constexpr const char* kDropUnreadIndexes = R"sql(
DROP INDEX idx_calls_status_scheduled;
DROP INDEX idx_calls_appointment;
)sql";

// Migration 7: one more index no query reads. The call log finds a call's
// participants by the call (idx_participants_call_user's first column); a
// call has a handful, so their status is read from the rows themselves. The
// index cost an insert for every participant invited or joining and a move
// at every status change (join, drop, rejoin, leave). PostgreSQL keeps it
// (syncd/central_schema.cc).
constexpr const char* kDropParticipantStatusIndex = R"sql(
DROP INDEX idx_participants_call_status;
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial call log", kInitialSchema},
    {2, "quality samples", kQualitySamples},
    {3, "sync bookkeeping", kSyncState},
    {4, "turn usage", kTurnUsage},
    {5, "calls by status, newest first", kStatusCreatedIndex},
    {6, "no index nothing reads", kDropUnreadIndexes},
    {7, "no participant status index", kDropParticipantStatusIndex},
};

}  // namespace

std::span<const Migration> call_log_migrations() { return kMigrations; }

namespace {

std::string last_change_seq_sql() {
  std::string sql = "SELECT max(";
  for (const SyncTable& t : sync_tables())
    sql += std::string("(SELECT coalesce(max(change_seq), 0) FROM ") + t.name + "), ";
  sql +=
      "(SELECT coalesce(max(high_water), 0) FROM sync_state), (SELECT coalesce(max(change_seq), 0) FROM sync_parked))";
  return sql;
}

}  // namespace

int64_t last_change_seq(sqlite3* db) {
  Statement s(db, last_change_seq_sql().c_str());
  if (s.step() == SQLITE_ROW) return s.integer(0);
  // Numbering again from 0 would hide every new change below syncd's mark.
  std::fprintf(stderr, "error: cannot read the call log's last change_seq: %s\n", sqlite3_errmsg(db));
  std::abort();
}

}  // namespace vytal
