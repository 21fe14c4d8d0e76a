// vytal-syncd's work: push every change of the SQLite call log to the central
// PostgreSQL, in change_seq order, in batches, each in one transaction that
// also moves the site's high-water mark. Upserts are keyed by id and guarded
// by version, so a batch replayed after a crash changes nothing and an older
// version never overwrites a newer one. Runs on its own thread and blocks on
// PostgreSQL; signald is never affected.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "call_log/sync_tables.h"
#include "common/clock.h"
#include "common/sqlite.h"
#include "syncd/change_reader.h"
#include "syncd/pg_session.h"

namespace vytal {

// Retention's DELETE of one chunk (at most 1000 rows) of `table`: rows at
// or below the local mark (?1) and last changed before the cutoff (?2),
// except what must stay: a parked row's version, a call scheduled or in
// progress and everything about it, and a call while any row refers to it.
std::string retention_delete_sql(const SyncTable& table);

struct SyncOptions {
  std::string site_id;
  int batch_rows = 10000;
  bool use_copy = true;  // COPY into a staging table, then one INSERT ... SELECT; else multi-row INSERTs
  int poll_ms = 200;
  int backoff_max_s = 30;
  int retention_days = 0;  // 0: synced rows stay in SQLite
};

// What /metrics shows; written by the sync thread, read by the HTTP thread.
// The kinds of vytal_sync_errors_total (pg_session.h, change_reader.h,
// central_schema.h): each is exported from the start, at 0.
inline constexpr const char* kSyncErrorKinds[] = {"pg_connect", "pg_transient", "pg_data",  "pg_error",
                                                  "sqlite",     "migration",    "db_error", "call_log_schema"};

// How often an idle syncd asks PostgreSQL whether it is still there.
inline constexpr int64_t kPgKeepaliveMs = 10000;

struct SyncStatus {
  mutable std::mutex mu;
  bool connected = false;
  int64_t high_water = 0;
  int64_t backlog_rows = 0;
  int64_t oldest_unsynced_ms = 0;  // 0: nothing waiting
  int64_t last_success_ms = 0;
  uint64_t rows_synced = 0;
  uint64_t batches = 0;
  uint64_t rows_parked = 0;
  uint64_t rows_pruned = 0;
  std::map<std::string, uint64_t> errors;  // by kind (every known kind from the start: kSyncErrorKinds)
  std::atomic<int64_t> loop_ms{0};         // the sync loop's last turn (the watchdog's liveness check)
  // The last PostgreSQL round trip that succeeded (monotonic; -1: none yet):
  // a batch, the connect, or the keepalive query while idle (/readyz).
  std::atomic<int64_t> pg_ok_ms{-1};

  std::string last_error_kind;  // the latest error's kind, at last_error_ms (0: none)
  int64_t last_error_ms = 0;

  SyncStatus();

  std::string render(int64_t now_ms) const;
};

class SyncWorker {
 public:
  SyncWorker(SqlitePtr db, PgOptions pg, SyncOptions options, SyncStatus& status, const Clock& clock);
  // Until `stop` is set; checks it between batches and while waiting.
  void run(const std::atomic<bool>& stop);

 private:
  void beat() { status_.loop_ms = clock_.monotonic_ms(); }
  bool connect();
  // While idle: SELECT 1; false (and the session dropped) when it failed.
  bool keepalive();
  // A batch is pushed in two halves so the next one can be read from SQLite
  // while PostgreSQL merges this one: start_push sends everything (the
  // transaction's last statements, COMMIT included, without waiting),
  // finish_push waits for the outcome.
  Result<bool> start_push(const std::vector<ChangeRow>& batch, int64_t high_water);
  Result<bool> finish_push();
  Result<bool> push_rows_one_by_one(const std::vector<ChangeRow>& batch, int64_t high_water, int* parked);
  // Writes rows of one table in the open transaction. In copy mode the rows go
  // to the staging table and the merge statement is appended to *merge_sql.
  Result<bool> write_table(const SyncTable& table, const std::vector<const ChangeRow*>& rows, std::string* merge_sql);
  std::string high_water_sql(int64_t high_water) const;
  Result<bool> upsert_one(const ChangeRow& row);
  void record_local(int64_t high_water, const std::vector<std::pair<const ChangeRow*, std::string>>& parked);
  void refresh_backlog();
  void prune();
  void fail(const Error& e);
  void wait(const std::atomic<bool>& stop, int ms);

  SqlitePtr db_;
  PgOptions pg_options_;
  SyncOptions options_;
  SyncStatus& status_;
  const Clock& clock_;
  ChangeReader reader_;
  std::optional<PgSession> pg_;
  int64_t high_water_ = 0;
  bool connected_before_ = false;  // high_water_ is then what this process committed
  int backoff_ms_ = 0;
  int64_t next_backlog_ms_ = 0;
  int64_t next_prune_ms_ = 0;
};

}  // namespace vytal
