#include "call_log/call_record.h"

#include <cctype>
#include <cstring>

#include "common/json.h"
#include "common/time_format.h"

namespace vytal {
namespace {

json_t* opt_time(const std::optional<int64_t>& ms) { return ms ? json_str(format_timestamp(*ms)) : json_null(); }
json_t* opt_str(const std::optional<std::string>& s) { return s ? json_str(*s) : json_null(); }

}  // namespace

bool is_platform_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("._:@-", c)) return false;
  return true;
}

JsonPtr call_to_json(const CallRecord& c, bool with_participants) {
  JsonPtr j(json_object());
  json_put(j.get(), "id", json_str(c.id));
  json_put(j.get(), "patientId", json_str(c.patient_id));
  json_put(j.get(), "providerId", json_str(c.provider_id));
  json_put(j.get(), "appointmentId", opt_str(c.appointment_id));
  json_put(j.get(), "type", json_str(c.type));
  json_put(j.get(), "status", json_string(call_status_name(c.status)));
  json_put(j.get(), "scheduledAt", opt_time(c.scheduled_at));
  json_put(j.get(), "startedAt", opt_time(c.started_at));
  json_put(j.get(), "endedAt", opt_time(c.ended_at));
  json_put(j.get(), "durationMs", c.duration_ms ? json_integer(*c.duration_ms) : json_null());
  json_put(j.get(), "endReason", opt_str(c.end_reason));
  json_put(j.get(), "createdBy", json_str(c.created_by));
  json_put(j.get(), "createdAt", json_str(format_timestamp(c.created_at)));
  json_put(j.get(), "updatedAt", json_str(format_timestamp(c.updated_at)));
  json_put(j.get(), "version", json_integer(c.version));
  if (with_participants) {
    json_t* parts = json_array();
    for (const ParticipantRecord& p : c.participants) {
      json_t* pj = json_object();
      json_put(pj, "id", json_str(p.id));
      json_put(pj, "userId", json_str(p.user_id));
      json_put(pj, "role", json_str(p.role));
      json_put(pj, "status", json_str(p.status));
      json_put(pj, "joinedAt", opt_time(p.joined_at));
      json_put(pj, "leftAt", opt_time(p.left_at));
      json_put(pj, "durationMs", json_integer(p.duration_ms));
      json_array_append_new(parts, pj);
    }
    json_put(j.get(), "participants", parts);
  }
  return j;
}

}  // namespace vytal
