#include "syncd/change_reader.h"

#include <algorithm>

#include "call_log/schema.h"
#include "common/time_format.h"

namespace vytal {
namespace {

// A read transaction: every statement inside sees the same WAL snapshot.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite3* db) : db_(db) { sqlite_exec(db_, "BEGIN", nullptr); }
  ~ReadTransaction() { sqlite_exec(db_, "COMMIT", nullptr); }

 private:
  sqlite3* db_;
};

}  // namespace

ChangeReader::ChangeReader(sqlite3* db) : db_(db) {
  auto prepare = [this](std::vector<Statement>& into, const std::string& sql) {
    if (unreadable_) return;
    auto s = Statement::prepare(db_, sql);
    if (s)
      into.push_back(std::move(s.value()));
    else
      unreadable_ = Error{"call_log_schema", "the call log cannot be read (" + s.error().message + "): " + sql};
  };
  for (const SyncTable& t : sync_tables()) {
    std::string cols;
    for (const SyncColumn& c : t.columns) cols += std::string(c.name) + ", ";
    prepare(selects_,
            "SELECT " + cols + "change_seq FROM " + t.name + " WHERE change_seq > ?1 ORDER BY change_seq LIMIT ?2");
    prepare(counts_, std::string("SELECT count(*) FROM ") + t.name + " WHERE change_seq > ?1");
    prepare(oldest_,
            std::string("SELECT updated_at FROM ") + t.name + " WHERE change_seq > ?1 ORDER BY change_seq LIMIT 1");
  }
}

Result<std::vector<ChangeRow>> ChangeReader::read(int64_t after, int limit) {
  if (unreadable_) return *unreadable_;
  // Each table's first `limit` rows, merged; the first `limit` of the merge
  // leave no gap: a table that contributed fewer than it had cannot have a
  // row below the merge's last change_seq that was not read.
  std::vector<ChangeRow> rows;
  std::span<const SyncTable> tables = sync_tables();
  // One snapshot for all tables: read separately, a commit landing between
  // two SELECTs would be seen in one table and not in another, and the
  // high-water mark would move past the rows that were missed.
  ReadTransaction snapshot(db_);
  for (size_t i = 0; i < tables.size(); ++i) {
    Statement& s = selects_[i];
    s.bind(1, after).bind(2, int64_t{limit});
    int rc;
    const size_t n = tables[i].columns.size();
    while ((rc = s.step()) == SQLITE_ROW) {
      ChangeRow row;
      row.table = &tables[i];
      row.values.reserve(n);
      for (size_t c = 0; c < n; ++c) {
        if (s.is_null(static_cast<int>(c))) {
          row.values.emplace_back(std::nullopt);
        } else if (tables[i].columns[c].type == ColumnType::time_ms) {
          row.values.emplace_back(format_timestamp(s.integer(static_cast<int>(c))));
        } else {
          row.values.emplace_back(s.text(static_cast<int>(c)));
        }
      }
      row.change_seq = s.integer(static_cast<int>(n));
      rows.push_back(std::move(row));
    }
    s.reset();
    if (rc != SQLITE_DONE) return Error{"sqlite", sqlite3_errmsg(db_)};
  }
  std::sort(rows.begin(), rows.end(),
            [](const ChangeRow& a, const ChangeRow& b) { return a.change_seq < b.change_seq; });
  if (rows.size() > static_cast<size_t>(limit)) rows.resize(limit);
  return rows;
}

Result<Backlog> ChangeReader::backlog(int64_t after) {
  if (unreadable_) return *unreadable_;
  Backlog b;
  ReadTransaction snapshot(db_);
  for (size_t i = 0; i < counts_.size(); ++i) {
    counts_[i].bind(1, after);
    if (counts_[i].step() == SQLITE_ROW) b.rows += counts_[i].integer(0);
    counts_[i].reset();
    oldest_[i].bind(1, after);
    if (oldest_[i].step() == SQLITE_ROW) {
      int64_t t = oldest_[i].integer(0);
      if (!b.oldest_updated_ms || t < *b.oldest_updated_ms) b.oldest_updated_ms = t;
    }
    oldest_[i].reset();
  }
  return b;
}

}  // namespace vytal

namespace vytal {

Result<int64_t> ChangeReader::synced_mark() {
  auto s = Statement::prepare(db_, "SELECT high_water FROM sync_state WHERE id = 1");
  if (!s) return Error{"call_log_schema", "the call log's sync_state cannot be read: " + s.error().message};
  int rc = s->step();
  if (rc == SQLITE_ROW) return s->integer(0);
  if (rc == SQLITE_DONE) return int64_t{0};
  return Error{"sqlite", sqlite3_errmsg(db_)};
}

}  // namespace vytal
