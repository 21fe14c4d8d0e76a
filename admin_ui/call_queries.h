// vytal-admin's reads of the call log, on its own read-only connection (WAL
// lets it read while signald writes): the call-log search with keyset
// pagination, a call's detail (timeline, participants, quality samples,
// TURN usage), the audit-log search, and the same searches as CSV streams
// that step through the rows as the client reads them (flat memory).
// One thread at a time per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "admin_ui/web_server.h"
#include "common/handles.h"
#include "common/result.h"

namespace vytal {

struct Cursor {
  int64_t at = 0;  // created_at (calls) or occurred_at (audit), Unix ms
  std::string id;
};
std::string encode_cursor(const Cursor& c);
std::optional<Cursor> decode_cursor(std::string_view text);

struct CallSearch {
  std::optional<int64_t> from;  // created_at >= from (Unix ms)
  std::optional<int64_t> to;    // created_at < to
  std::optional<std::string> status;
  std::optional<std::string> call_id;
  std::optional<std::string> patient_id;
  std::optional<std::string> provider_id;
  std::optional<Cursor> before;  // newest first: rows strictly older than this
  int limit = 50;
};

struct AuditSearch {
  std::optional<int64_t> from;
  std::optional<int64_t> to;
  std::optional<std::string> actor;
  std::optional<std::string> action;  // exact, or a prefix ending in '.' ("admin.")
  std::optional<std::string> call_id;
  std::optional<Cursor> before;
  int limit = 50;
};

// {"calls":[...], "nextCursor": "..."|null}
Result<JsonPtr> search_calls(sqlite3* db, const CallSearch& search);
// {"call":{...}, "participants":[...], "events":[...], "quality":[...], "turn":[...]}; nullopt: no such call.
Result<std::optional<JsonPtr>> call_detail(sqlite3* db, const std::string& call_id);
// {"entries":[...], "nextCursor": ...}
Result<JsonPtr> search_audit(sqlite3* db, const AuditSearch& search);

// CSV of every call matching (limit and cursor ignored), newest first; owns
// its own read-only connection to `call_log_path`.
Result<std::unique_ptr<ResponseStream>> calls_csv(const std::string& call_log_path, const CallSearch& search);
Result<std::unique_ptr<ResponseStream>> audit_csv(const std::string& call_log_path, const AuditSearch& search);

// One CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a
// formula (=, +, -, @, tab, CR first) is prefixed with ' (OWASP CSV injection).
std::string csv_field(std::string_view text);

}  // namespace vytal
