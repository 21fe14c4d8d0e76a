// Reads the call log's changes in change_seq order for vytal-syncd: the rows
// of every synchronized table whose change_seq is above a high-water mark,
// merged into one ordered batch, values as text ready for PostgreSQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "call_log/sync_tables.h"
#include "common/sqlite.h"

namespace vytal {

struct ChangeRow {
  const SyncTable* table = nullptr;
  int64_t change_seq = 0;
  std::vector<std::optional<std::string>> values;  // in table->columns order; times as RFC 3339
};

struct Backlog {
  int64_t rows = 0;
  std::optional<int64_t> oldest_updated_ms;  // of the oldest change not yet synced
};

class ChangeReader {
 public:
  // A call log whose tables lack what is read here (a damaged schema) makes
  // every read an error, not an abort: syncd reports it and retries.
  explicit ChangeReader(sqlite3* db);
  // At most `limit` rows with change_seq > after, in change_seq order. Every
  // row up to the batch's last change_seq is in it (nothing skipped).
  Result<std::vector<ChangeRow>> read(int64_t after, int limit);
  Result<Backlog> backlog(int64_t after);
  // The high-water mark syncd last recorded here once PostgreSQL confirmed
  // it (sync_state), 0 when none was: how far this call log knows it synced.
  Result<int64_t> synced_mark();

 private:
  sqlite3* db_;
  std::optional<Error> unreadable_;  // why the statements could not be prepared
  std::vector<Statement> selects_;   // one per sync table
  std::vector<Statement> counts_;
  std::vector<Statement> oldest_;
};

}  // namespace vytal
