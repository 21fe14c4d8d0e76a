#include "syncd/sync_worker.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "call_log/call_state.h"
#include "common/log.h"
#include "syncd/central_schema.h"

namespace vytal {
namespace {

std::string column_list(const SyncTable& t) {
  std::string s;
  for (const SyncColumn& c : t.columns) s += std::string(c.name) + ", ";
  return s + "site_id";
}

// ON CONFLICT clause shared by both write paths: the newer version wins, and
// only over a row of the same site.
std::string conflict_clause(const SyncTable& t) {
  std::string s = " ON CONFLICT (id) DO UPDATE SET ";
  for (size_t i = 1; i < t.columns.size(); ++i)
    s += std::string(t.columns[i].name) + " = EXCLUDED." + t.columns[i].name + ", ";
  s += std::string("synced_at = clock_timestamp() WHERE ") + t.name + ".version < EXCLUDED.version AND " + t.name +
       ".site_id = EXCLUDED.site_id";
  return s;
}

// COPY text format (PostgreSQL docs, COPY, "Text Format").
void copy_escape(std::string& out, const std::optional<std::string>& v) {
  if (!v) {
    out += "\\N";
    return;
  }
  for (char c : *v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

// One line per call whose final state reached PostgreSQL, with CALL_ID=:
// `journalctl CALL_ID=<id>` follows a call from signald to the platform. A
// parked call row did not reach it, and is not logged as synced.
void log_synced_calls(const std::vector<ChangeRow>& batch,
                      const std::vector<std::pair<const ChangeRow*, std::string>>& parked = {}) {
  if (!log_enabled(LogLevel::info)) return;
  for (const ChangeRow& row : batch) {
    if (std::string_view(row.table->name) != "calls") continue;
    if (std::any_of(parked.begin(), parked.end(), [&](const auto& p) { return p.first == &row; })) continue;
    std::optional<std::string> status;
    for (size_t i = 0; i < row.table->columns.size() && i < row.values.size(); ++i)
      if (std::string_view(row.table->columns[i].name) == "status") status = row.values[i];
    auto terminal = status ? parse_call_status(*status) : std::nullopt;
    if (terminal && is_terminal(*terminal) && row.values[0])
      log_event(LogLevel::info, {*row.values[0], {}}, "call synced to PostgreSQL status=%s change=%lld",
                status->c_str(), static_cast<long long>(row.change_seq));
  }
}

}  // namespace

SyncStatus::SyncStatus() {
  for (const char* kind : kSyncErrorKinds) errors.emplace(kind, 0);
}

std::string SyncStatus::render(int64_t now_ms) const {
  std::lock_guard lock(mu);
  std::string out;
  char buf[256];
  auto add = [&](const char* name, const char* type, const char* help, double value) {
    std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, value);
    out += buf;
  };
  add("vytal_sync_connected", "gauge", "1 while connected to PostgreSQL.", connected ? 1 : 0);
  add("vytal_sync_high_water", "gauge", "Last change_seq committed in PostgreSQL.", static_cast<double>(high_water));
  add("vytal_sync_backlog_rows", "gauge", "Changes in the call log not yet in PostgreSQL.",
      static_cast<double>(backlog_rows));
  add("vytal_sync_oldest_unsynced_age_seconds", "gauge", "Age of the oldest change not yet in PostgreSQL.",
      oldest_unsynced_ms ? (now_ms - oldest_unsynced_ms) / 1000.0 : 0.0);
  add("vytal_sync_last_success_timestamp_seconds", "gauge", "When a batch last committed in PostgreSQL.",
      last_success_ms / 1000.0);
  add("vytal_sync_rows_total", "counter", "Rows committed in PostgreSQL.", static_cast<double>(rows_synced));
  add("vytal_sync_batches_total", "counter", "Batches committed in PostgreSQL.", static_cast<double>(batches));
  add("vytal_sync_parked_rows_total", "counter", "Rows PostgreSQL refused for their content, parked.",
      static_cast<double>(rows_parked));
  add("vytal_sync_pruned_rows_total", "counter", "Synced rows removed from the call log after retention.",
      static_cast<double>(rows_pruned));
  out += "# HELP vytal_sync_errors_total Sync errors by kind.\n# TYPE vytal_sync_errors_total counter\n";
  for (const auto& [kind, n] : errors) {
    std::snprintf(buf, sizeof buf, "vytal_sync_errors_total{kind=\"%s\"} %llu\n", kind.c_str(),
                  static_cast<unsigned long long>(n));
    out += buf;
  }
  if (last_error_ms) {
    out +=
        "# HELP vytal_sync_last_error_timestamp_seconds When the last sync error happened, labelled with its kind.\n"
        "# TYPE vytal_sync_last_error_timestamp_seconds gauge\n";
    std::snprintf(buf, sizeof buf, "vytal_sync_last_error_timestamp_seconds{kind=\"%s\"} %.3f\n",
                  last_error_kind.c_str(), last_error_ms / 1000.0);
    out += buf;
  }
  return out;
}

SyncWorker::SyncWorker(SqlitePtr db, PgOptions pg, SyncOptions options, SyncStatus& status, const Clock& clock)
    : db_(std::move(db)),
      pg_options_(std::move(pg)),
      options_(std::move(options)),
      status_(status),
      clock_(clock),
      reader_(db_.get()) {}

void SyncWorker::fail(const Error& e) {
  LOG_WARN("syncd: %s: %s", e.code.c_str(), e.message.c_str());
  std::lock_guard lock(status_.mu);
  ++status_.errors[e.code];
  status_.last_error_kind = e.code;
  status_.last_error_ms = clock_.now_ms();
  if (e.code == "pg_connect" || e.code == "pg_transient") status_.connected = false;
}

bool SyncWorker::keepalive() {
  // Nothing to send for a while: one round trip shows PostgreSQL is still
  // there (/readyz), and finds a dead session before the next batch does.
  auto alive = pg_->exec("SELECT 1");
  if (!alive) {
    fail(alive.error());
    pg_.reset();
    return false;
  }
  status_.pg_ok_ms = clock_.monotonic_ms();
  return true;
}

void SyncWorker::wait(const std::atomic<bool>& stop, int ms) {
  for (int waited = 0; waited < ms && !stop.load(); waited += 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, ms - waited)));
}

bool SyncWorker::connect() {
  auto session = PgSession::connect(pg_options_);
  if (!session) {
    fail(session.error());
    return false;
  }
  pg_.emplace(std::move(session.value()));
  auto migrated = apply_central_migrations(*pg_);
  if (!migrated) {
    fail(Error{"migration", migrated.error().message});
    pg_.reset();
    return false;
  }
  if (migrated.value() > 0) LOG_INFO("syncd: applied %d central migration(s)", migrated.value());
  // PostgreSQL holds the truth of how far this site has arrived.
  auto hw = pg_->exec_params("SELECT high_water FROM sync_state WHERE site_id = $1", {options_.site_id.c_str()});
  if (!hw) {
    fail(hw.error());
    pg_.reset();
    return false;
  }
  const int64_t central = PQntuples(hw.value().get()) ? std::atoll(PQgetvalue(hw.value().get(), 0, 0)) : 0;
  status_.pg_ok_ms = clock_.monotonic_ms();
  // How far this side knows it sent: at the process's first connect, the
  // call log's own copy of the mark; after that, what this process committed.
  int64_t ours = high_water_;
  if (!connected_before_) {
    auto synced = reader_.synced_mark();
    if (!synced) {
      fail(synced.error());
      pg_.reset();
      return false;
    }
    ours = synced.value();
  }
  high_water_ = std::min(central, ours);
  if (central > ours) {
    // PostgreSQL has seen more of this site than this side knows it sent:
    // the call log was replaced (a reinstall, a restore from a backup), or
    // syncd stopped (or lost the session) between PostgreSQL's commit and its
    // own record. The changes numbered since may not be the ones PostgreSQL
    // holds, so they are sent again (a row PostgreSQL has at the same or a
    // newer version is left as it is).
    LOG_WARN(
        "syncd: PostgreSQL's mark for site %s (%lld) is above this call log's own (%lld); resending the "
        "changes after %lld",
        options_.site_id.c_str(), static_cast<long long>(central), static_cast<long long>(ours),
        static_cast<long long>(ours));
  }
  if (options_.use_copy) {
    std::string staging;
    for (const SyncTable& t : sync_tables())
      staging += std::string("CREATE TEMP TABLE stage_") + t.name + " (LIKE " + t.name +
                 " INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;";
    auto made = pg_->exec(staging);
    if (!made) {
      fail(made.error());
      pg_.reset();
      return false;
    }
  }
  LOG_INFO("syncd: connected to PostgreSQL %s:%s/%s as site %s, high-water mark %lld", pg_options_.host.c_str(),
           pg_options_.port.c_str(), pg_options_.dbname.c_str(), options_.site_id.c_str(),
           static_cast<long long>(high_water_));
  connected_before_ = true;
  std::lock_guard lock(status_.mu);
  status_.connected = true;
  status_.high_water = high_water_;
  return true;
}

Result<bool> SyncWorker::write_table(const SyncTable& t, const std::vector<const ChangeRow*>& rows,
                                     std::string* merge_sql) {
  if (rows.empty()) return true;
  const std::string cols = column_list(t);
  if (options_.use_copy && merge_sql) {
    std::string data;
    for (const ChangeRow* r : rows) {
      for (const auto& v : r->values) {
        copy_escape(data, v);
        data += '\t';
      }
      copy_escape(data, options_.site_id);
      data += '\n';
    }
    auto copied = pg_->copy_in(std::string("COPY stage_") + t.name + " (" + cols + ") FROM STDIN", data);
    if (!copied) return copied.error();
    *merge_sql += std::string("INSERT INTO ") + t.name + " (" + cols + ") SELECT " + cols + " FROM stage_" + t.name +
                  conflict_clause(t) + "; TRUNCATE stage_" + t.name + "; ";
    return true;
  }
  // Multi-row INSERT ... ON CONFLICT, within PostgreSQL's 65535 parameters.
  const size_t per_row = t.columns.size() + 1;
  const size_t chunk = 60000 / per_row;
  for (size_t start = 0; start < rows.size(); start += chunk) {
    size_t end = std::min(rows.size(), start + chunk);
    std::string sql = std::string("INSERT INTO ") + t.name + " (" + cols + ") VALUES ";
    std::vector<const char*> params;
    params.reserve((end - start) * per_row);
    int n = 1;
    for (size_t i = start; i < end; ++i) {
      sql += i == start ? "(" : ", (";
      for (size_t c = 0; c < t.columns.size(); ++c) {
        sql += "$" + std::to_string(n++) + "::" + pg_type(t.columns[c].type) + ", ";
        params.push_back(rows[i]->values[c] ? rows[i]->values[c]->c_str() : nullptr);
      }
      sql += "$" + std::to_string(n++) + ")";
      params.push_back(options_.site_id.c_str());
    }
    auto r = pg_->exec_params(sql + conflict_clause(t), params);
    if (!r) return r.error();
  }
  return true;
}

Result<bool> SyncWorker::upsert_one(const ChangeRow& row) {
  // One row: a plain INSERT says precisely what is wrong with it.
  return write_table(*row.table, {&row}, nullptr);
}

std::string SyncWorker::high_water_sql(int64_t high_water) const {
  // site_id is letters, digits and "-_." only (syncd_config.cc): safe to quote.
  return "INSERT INTO sync_state(site_id, high_water) VALUES ('" + options_.site_id + "', " +
         std::to_string(high_water) +
         ") ON CONFLICT (site_id) DO UPDATE SET high_water = EXCLUDED.high_water, updated_at = clock_timestamp(); ";
}

Result<bool> SyncWorker::start_push(const std::vector<ChangeRow>& batch, int64_t high_water) {
  auto begin = pg_->exec("BEGIN");
  if (!begin) return begin.error();
  std::string tail;
  for (const SyncTable& t : sync_tables()) {  // calls first: readers of a committed batch see whole calls
    std::vector<const ChangeRow*> rows;
    for (const ChangeRow& r : batch)
      if (r.table == &t) rows.push_back(&r);
    auto written = write_table(t, rows, options_.use_copy ? &tail : nullptr);
    if (!written) {
      pg_->exec("ROLLBACK");
      return written.error();
    }
  }
  // The merges, the high-water mark and COMMIT: one round trip, not waited for.
  return pg_->send(tail + high_water_sql(high_water) + "COMMIT");
}

Result<bool> SyncWorker::finish_push() {
  auto done = pg_->finish();
  if (!done && pg_->ok()) pg_->exec("ROLLBACK");  // an error ended the statements before COMMIT
  return done;
}

Result<bool> SyncWorker::push_rows_one_by_one(const std::vector<ChangeRow>& batch, int64_t high_water, int* parked) {
  // A row PostgreSQL refuses for its content would stop the site forever:
  // each row gets its own savepoint, and a refused one is parked (recorded
  // centrally and locally, reported) while the others go through.
  std::vector<std::pair<const ChangeRow*, std::string>> refused;
  auto begin = pg_->exec("BEGIN");
  if (!begin) return begin.error();
  for (const SyncTable& t : sync_tables()) {
    for (const ChangeRow& r : batch) {
      if (r.table != &t) continue;
      beat();  // thousands of round trips: the watchdog must see them as progress
      pg_->exec("SAVEPOINT row");
      auto one = upsert_one(r);
      if (one) {
        pg_->exec("RELEASE SAVEPOINT row");
        continue;
      }
      if (one.error().code != "pg_data") {
        pg_->exec("ROLLBACK");
        return one.error();
      }
      pg_->exec("ROLLBACK TO SAVEPOINT row");
      std::string seq = std::to_string(r.change_seq);
      auto noted = pg_->exec_params(
          "INSERT INTO sync_parked(site_id, table_name, row_id, change_seq, error) VALUES ($1, $2, $3, $4, $5) "
          "ON CONFLICT DO NOTHING",
          {options_.site_id.c_str(), t.name, r.values[0] ? r.values[0]->c_str() : "", seq.c_str(),
           one.error().message.c_str()});
      if (!noted) {
        pg_->exec("ROLLBACK");
        return noted.error();
      }
      refused.emplace_back(&r, one.error().message);
    }
  }
  auto commit = pg_->exec(high_water_sql(high_water) + "COMMIT");
  if (!commit) {
    pg_->exec("ROLLBACK");
    return commit.error();
  }
  for (const auto& [row, error] : refused)
    LOG_ERROR("syncd: parked %s row %s (change %lld): %s", row->table->name,
              row->values[0] ? row->values[0]->c_str() : "?", static_cast<long long>(row->change_seq), error.c_str());
  record_local(high_water, refused);
  log_synced_calls(batch, refused);
  *parked = static_cast<int>(refused.size());
  return true;
}

void SyncWorker::record_local(int64_t high_water, const std::vector<std::pair<const ChangeRow*, std::string>>& parked) {
  // A copy of the high-water mark beside the call log: retention prunes only
  // below it, so a row is never removed before PostgreSQL has it.
  std::string error;
  if (!sqlite_exec(db_.get(), "BEGIN IMMEDIATE", &error)) {
    fail(Error{"sqlite", "could not record the high-water mark in the call log: " + error});
    return;
  }
  Statement hw(db_.get(),
               "INSERT INTO sync_state(id, high_water, updated_at) VALUES (1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET "
               "high_water = ?1, updated_at = ?2");
  hw.bind(1, high_water).bind(2, clock_.now_ms());
  bool ok = hw.step() == SQLITE_DONE;
  for (const auto& [row, why] : parked) {
    Statement p(db_.get(),
                "INSERT OR IGNORE INTO sync_parked(table_name, row_id, change_seq, error, parked_at) "
                "VALUES (?, ?, ?, ?, ?)");
    p.bind(1, row->table->name)
        .bind(2, row->values[0].value_or(""))
        .bind(3, row->change_seq)
        .bind(4, why)
        .bind(5, clock_.now_ms());
    ok = ok && p.step() == SQLITE_DONE;
  }
  if (!ok || !sqlite_exec(db_.get(), "COMMIT", &error)) {
    // Retention then keeps what it cannot see confirmed; the next connect of
    // this process resends from what it committed, not from this record.
    std::string why = ok ? error : sqlite3_errmsg(db_.get());
    sqlite_exec(db_.get(), "ROLLBACK", nullptr);
    fail(Error{"sqlite", "could not record the high-water mark in the call log: " + why});
  }
}

void SyncWorker::refresh_backlog() {
  int64_t now = clock_.now_ms();
  if (now < next_backlog_ms_) return;
  next_backlog_ms_ = now + 1000;
  // Before this process's first connect, high_water_ is not known yet: the
  // call log's own copy of the mark is how far it synced.
  int64_t from = high_water_;
  if (!connected_before_) {
    auto synced = reader_.synced_mark();
    if (!synced) return;
    from = synced.value();
  }
  auto b = reader_.backlog(from);
  if (!b) return;
  std::lock_guard lock(status_.mu);
  status_.backlog_rows = b->rows;
  status_.oldest_unsynced_ms = b->oldest_updated_ms.value_or(0);
}

std::string retention_delete_sql(const SyncTable& table) {
  const std::string name = table.name;
  auto has_call_id = [](const SyncTable& t) {
    for (const SyncColumn& c : t.columns)
      if (std::string(c.name) == "call_id") return true;
    return false;
  };
  // A row PostgreSQL refused for its content (parked) has not reached it in
  // this version: only the call log holds it.
  std::string guard = " AND NOT EXISTS (SELECT 1 FROM sync_parked p WHERE p.table_name = '" + name +
                      "' AND p.row_id = " + name + ".id AND p.change_seq = " + name + ".change_seq)";
  // A call still scheduled or in progress stays, with everything about it.
  if (name == "calls") guard += " AND status NOT IN ('scheduled', 'active')";
  if (has_call_id(table))
    guard += " AND NOT EXISTS (SELECT 1 FROM calls k WHERE k.id = " + name +
             ".call_id AND k.status IN ('scheduled', 'active'))";
  // A call stays while any row about it does. audit_log has no index on
  // call_id (an insert more on every audited action): its call ids are
  // listed once per statement instead of searched once per call.
  if (name == "calls")
    for (const SyncTable& child : sync_tables()) {
      if (!has_call_id(child)) continue;
      if (std::string(child.name) == "audit_log")
        guard += " AND id NOT IN (SELECT call_id FROM audit_log a WHERE call_id IS NOT NULL)";
      else
        guard += std::string(" AND NOT EXISTS (SELECT 1 FROM ") + child.name + " x WHERE x.call_id = calls.id)";
    }
  return "DELETE FROM " + name + " WHERE rowid IN (SELECT rowid FROM " + name +
         " WHERE change_seq <= ?1 AND updated_at < ?2" + guard + " LIMIT 1000)";
}

void SyncWorker::prune() {
  if (options_.retention_days <= 0) return;
  int64_t now = clock_.now_ms();
  if (now < next_prune_ms_) return;
  next_prune_ms_ = now + 600000;
  // The local copy of the high-water mark: only what PostgreSQL confirmed.
  auto mark = reader_.synced_mark();
  if (!mark || mark.value() == 0) return;
  int64_t synced = mark.value();
  int64_t cutoff = now - int64_t{options_.retention_days} * 86400000;
  uint64_t removed = 0;
  std::span<const SyncTable> tables = sync_tables();
  for (auto t = tables.rbegin(); t != tables.rend(); ++t) {  // children before their calls
    Statement del(db_.get(), retention_delete_sql(*t).c_str());
    for (;;) {  // small transactions: signald's writer waits at most one of them
      del.bind(1, synced).bind(2, cutoff);
      int rc = del.step();
      int n = sqlite3_changes(db_.get());
      del.reset();
      if (rc != SQLITE_DONE || n == 0) break;
      removed += n;
      beat();
    }
  }
  if (removed) {
    LOG_INFO("syncd: pruned %llu synced row(s) older than %d days", static_cast<unsigned long long>(removed),
             options_.retention_days);
    std::lock_guard lock(status_.mu);
    status_.rows_pruned += removed;
  }
}

void SyncWorker::run(const std::atomic<bool>& stop) {
  std::mt19937 rng(std::random_device{}());
  std::optional<std::vector<ChangeRow>> next;  // read ahead while the previous batch commits
  while (!stop.load()) {
    beat();
    if (!pg_ && !connect()) {
      next.reset();
      // Exponential backoff with full jitter while PostgreSQL is away.
      backoff_ms_ = std::min(options_.backoff_max_s * 1000, std::max(500, backoff_ms_ * 2));
      refresh_backlog();
      wait(stop, std::uniform_int_distribution<int>(backoff_ms_ / 2, backoff_ms_)(rng));
      continue;
    }
    auto batch =
        next ? Result<std::vector<ChangeRow>>(std::move(*next)) : reader_.read(high_water_, options_.batch_rows);
    next.reset();
    if (!batch) {
      fail(batch.error());
      wait(stop, 1000);
      continue;
    }
    if (batch->empty()) {
      refresh_backlog();
      prune();
      if (clock_.monotonic_ms() - status_.pg_ok_ms.load() >= kPgKeepaliveMs && !keepalive()) continue;
      wait(stop, options_.poll_ms);
      continue;
    }
    int64_t high_water = batch->back().change_seq;
    int parked = 0;
    auto pushed = start_push(batch.value(), high_water);
    if (pushed) {
      // While PostgreSQL merges this batch, read the next one.
      auto more = reader_.read(high_water, options_.batch_rows);
      if (more && !more->empty()) next = std::move(more.value());
      pushed = finish_push();
    }
    if (!pushed && pushed.error().code == "pg_data") pushed = push_rows_one_by_one(batch.value(), high_water, &parked);
    if (!pushed) {
      next.reset();  // read past a batch that did not commit
      fail(pushed.error());
      if (pushed.error().code != "pg_data") pg_.reset();  // reconnect: the session may be broken
      backoff_ms_ = std::min(options_.backoff_max_s * 1000, std::max(500, backoff_ms_ * 2));
      wait(stop, std::uniform_int_distribution<int>(backoff_ms_ / 2, backoff_ms_)(rng));
      continue;
    }
    backoff_ms_ = 0;
    status_.pg_ok_ms = clock_.monotonic_ms();
    high_water_ = high_water;
    if (!parked) {
      record_local(high_water, {});
      log_synced_calls(batch.value());
    }
    {
      std::lock_guard lock(status_.mu);
      status_.high_water = high_water;
      status_.rows_synced += batch->size() - parked;
      status_.rows_parked += parked;
      ++status_.batches;
      status_.last_success_ms = clock_.now_ms();
      status_.connected = true;
    }
    refresh_backlog();
  }
}

}  // namespace vytal
