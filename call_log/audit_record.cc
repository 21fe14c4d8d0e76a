#include "call_log/audit_record.h"

#include <algorithm>
#include <cctype>

#include "common/crypto.h"
#include "common/json.h"

namespace vytal {
namespace {

bool is_code(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
           c == '_' || c == '-';
  });
}

bool printable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

}  // namespace

JsonPtr audit_record_to_json(const AuditRecord& r) {
  JsonPtr j(json_object());
  json_put(j.get(), "id", json_str(r.id));
  json_put(j.get(), "occurredAt", json_integer(r.occurred_at));
  json_put(j.get(), "actor", json_str(r.actor_id));
  json_put(j.get(), "role", json_str(r.actor_role));
  json_put(j.get(), "action", json_str(r.action));
  json_put(j.get(), "outcome", json_str(r.outcome));
  json_put(j.get(), "callId", r.call_id ? json_str(*r.call_id) : nullptr);
  json_put(j.get(), "remoteAddr", json_str(r.remote_addr));
  json_put(j.get(), "detail", json_str(r.detail));
  return j;
}

Result<AuditRecord> audit_record_from_json(const json_t* j) {
  auto bad = [](const char* field, const char* what) { return Error{"validation", std::string(field) + " " + what}; };
  if (!json_is_object(j)) return Error{"validation", "each record must be a JSON object"};
  AuditRecord r;
  auto id = json_string_field(j, "id");
  if (!id || !is_uuid(*id)) return bad("id", "must be a UUID");
  r.id = *id;
  auto at = json_integer_field(j, "occurredAt");
  if (!at || *at <= 0) return bad("occurredAt", "must be Unix milliseconds");
  r.occurred_at = *at;
  auto actor = json_string_field(j, "actor");
  if (!actor || actor->empty() || actor->size() > 128 || !printable(*actor))
    return bad("actor", "must be 1 to 128 characters");
  r.actor_id = *actor;
  auto role = json_string_field(j, "role");
  if (!role || !(*role == "viewer" || *role == "operator" || *role == "admin" || *role == "cli" || *role == "none"))
    return bad("role", "must be viewer, operator, admin, cli or none");
  r.actor_role = *role;
  auto action = json_string_field(j, "action");
  if (!action || !is_code(*action, 64)) return bad("action", "must be a short code such as admin.login");
  r.action = *action;
  auto outcome = json_string_field(j, "outcome");
  if (!outcome || !(*outcome == "ok" || *outcome == "denied" || *outcome == "failed"))
    return bad("outcome", "must be ok, denied or failed");
  r.outcome = *outcome;
  const json_t* call = json_object_get(j, "callId");
  if (call && !json_is_null(call)) {
    auto c = json_string_field(j, "callId");
    if (!c || !is_uuid(*c)) return bad("callId", "must be a UUID or null");
    r.call_id = std::string(*c);
  }
  auto addr = json_string_field(j, "remoteAddr");
  if (!addr || addr->size() > 64 || !printable(*addr)) return bad("remoteAddr", "must be an address");
  r.remote_addr = *addr;
  auto detail = json_string_field(j, "detail");
  if (detail && (detail->size() > kMaxAuditDetailBytes || !printable(*detail)))
    return bad("detail", "must be at most 1024 bytes");
  if (detail) r.detail = *detail;
  return r;
}

std::string_view utf8_prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  // Back off over continuation bytes (10xxxxxx) to the start of a character.
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

std::string audit_detail(std::string_view text, std::string_view suffix) {
  suffix = utf8_prefix(suffix, kMaxAuditDetailBytes);
  std::string out(utf8_prefix(text, kMaxAuditDetailBytes - suffix.size()));
  out.append(suffix);
  return out;
}

AuditRecord make_audit_record(const Clock& clock, std::string actor, std::string role, std::string action,
                              std::string outcome, std::string remote_addr, std::string detail,
                              std::optional<std::string> call_id) {
  AuditRecord r;
  r.occurred_at = clock.now_ms();
  r.id = uuid_v7(r.occurred_at);
  r.actor_id = std::move(actor);
  r.actor_role = std::move(role);
  r.action = std::move(action);
  r.outcome = std::move(outcome);
  r.remote_addr = std::move(remote_addr);
  r.detail = detail.size() > kMaxAuditDetailBytes ? audit_detail(detail) : std::move(detail);
  r.call_id = std::move(call_id);
  return r;
}

}  // namespace vytal
