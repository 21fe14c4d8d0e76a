#include "signald/call_events_log.h"

#include "common/log.h"

namespace vytal {
namespace {

const ParticipantRecord* participant(const CallRecord& call, const std::string& user) {
  for (const ParticipantRecord& p : call.participants)
    if (p.user_id == user) return &p;
  return nullptr;
}

}  // namespace

void log_call_update(const CallUpdate& u) {
  if (!log_enabled(LogLevel::info)) return;
  const CallRecord& c = u.call;
  const ParticipantRecord* p = u.user.empty() ? nullptr : participant(c, u.user);
  const char* role = p ? p->role.c_str() : "-";
  LogFields call{c.id, {}};
  LogFields member{c.id, u.user};
  if (u.event == "created") {
    log_event(LogLevel::info, {c.id, u.by}, "call created type=%s", c.type.c_str());
  } else if (u.event == "joined") {
    log_event(LogLevel::info, member, "participant joined role=%s", role);
    if (u.from == CallStatus::scheduled && c.status == CallStatus::active)
      log_event(LogLevel::info, call, "call started participants=2");
  } else if (u.event == "reconnecting") {
    log_event(LogLevel::info, member, "participant reconnecting role=%s", role);
  } else if (u.event == "left") {
    log_event(LogLevel::info, member, "participant left reason=%s role=%s duration_ms=%lld", u.reason.c_str(), role,
              static_cast<long long>(p ? p->duration_ms : 0));
  } else if (u.event == "invited") {
    log_event(LogLevel::info, member, "participant invited role=%s", role);
  } else if (u.event == "ended" || u.event == "missed" || u.event == "cancelled" || u.event == "failed") {
    log_event(LogLevel::info, {c.id, u.by}, "call %s reason=%s duration_ms=%lld", u.event.c_str(), u.reason.c_str(),
              static_cast<long long>(c.duration_ms.value_or(0)));
  }
}

}  // namespace vytal
