// Reads of the call log. One CallReader per SQLite connection; not
// thread-safe. signald's event loop reads through its own read-only
// connection (WAL lets it read while the writer thread commits).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "call_log/call_record.h"
#include "common/sqlite.h"

namespace vytal {

struct CallFilter {
  std::optional<std::string> patient_id;
  std::optional<std::string> provider_id;
  std::optional<CallStatus> status;
  std::optional<int64_t> created_from;  // inclusive, Unix ms
  std::optional<int64_t> created_to;    // exclusive, Unix ms
  // Rows a patient or provider may see: their own calls and calls they are a participant of.
  std::optional<std::string> visible_to_patient;
  std::optional<std::string> visible_to_provider;
  // Keyset pagination: rows strictly before (created_at, id), newest first.
  std::optional<std::pair<int64_t, std::string>> before;
  int limit = 50;
};

class CallReader {
 public:
  explicit CallReader(sqlite3* db);

  // Err code "db_error" when SQLite fails; nullopt when there is no such call.
  Result<std::optional<CallRecord>> get(std::string_view id);
  // Up to filter.limit calls, without participants, newest first.
  Result<std::vector<CallRecord>> list(const CallFilter& filter);
  Result<std::map<CallStatus, int64_t>> count_by_status();

 private:
  sqlite3* db_;
  Statement select_call_;
  Statement select_participants_;
};

// Reads the current row of a calls SELECT that lists kCallColumns.
CallRecord read_call_row(const Statement& s);
extern const char* const kCallColumns;

}  // namespace vytal
