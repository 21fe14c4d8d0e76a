// An audit row made outside signald (vytal-admin, vytalctl) and written
// through signald's write path (CallWriter::record_audit), and its JSON form
// on signald's local channel (POST /internal/audit). `id` is a UUIDv7
// chosen by the maker, so a record sent twice (an answer lost) is written
// once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/handles.h"
#include "common/result.h"

namespace vytal {

// The most records one POST /internal/audit may carry, and the longest
// detail signald takes (bytes).
inline constexpr size_t kMaxAuditRecordsPerPost = 64;
inline constexpr size_t kMaxAuditDetailBytes = 1024;

// At most `max_bytes` of `s`, cut at a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view s, size_t max_bytes);
// `text` cut to fit with `suffix` in kMaxAuditDetailBytes, at a UTF-8
// character boundary, then `suffix`: a long detail keeps its end (say the
// request id) and stays valid UTF-8.
std::string audit_detail(std::string_view text, std::string_view suffix = {});

struct AuditRecord {
  std::string id;
  int64_t occurred_at = 0;  // Unix ms, when the action happened
  std::string actor_id;
  std::string actor_role;  // viewer, operator, admin (vytal-admin accounts), cli (vytalctl), none
  std::string action;      // a short code: admin.login, admin.export.calls, account.add, ...
  std::string outcome;     // ok, denied, failed
  std::optional<std::string> call_id;
  std::string remote_addr;
  std::string detail;  // a short sentence, no secrets
};

// The same record with a fresh id and the clock's time.
AuditRecord make_audit_record(const Clock& clock, std::string actor, std::string role, std::string action,
                              std::string outcome, std::string remote_addr, std::string detail = {},
                              std::optional<std::string> call_id = std::nullopt);

JsonPtr audit_record_to_json(const AuditRecord& r);
// Checks every field; error "validation" naming the field.
Result<AuditRecord> audit_record_from_json(const json_t* j);

}  // namespace vytal
