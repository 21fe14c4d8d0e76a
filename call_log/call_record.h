// Rows of the call log as signald reads and writes them, and their JSON form
// (camelCase, timestamps in RFC 3339 UTC with milliseconds).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "call_log/call_state.h"
#include "common/handles.h"
#include "common/jwt.h"

namespace vytal {

struct ParticipantRecord {
  std::string id;
  std::string call_id;
  std::string user_id;
  std::string role;    // patient, provider, interpreter, family, caregiver, observer
  std::string status;  // invited, joined, reconnecting, left, removed
  std::optional<int64_t> joined_at;
  std::optional<int64_t> left_at;
  int64_t duration_ms = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t version = 1;
};

struct CallRecord {
  std::string id;
  std::string patient_id;
  std::string provider_id;
  std::optional<std::string> appointment_id;
  std::string type;  // video or audio
  CallStatus status = CallStatus::scheduled;
  std::optional<int64_t> scheduled_at;
  std::optional<int64_t> started_at;
  std::optional<int64_t> ended_at;
  std::optional<int64_t> duration_ms;
  std::optional<std::string> end_reason;
  std::string created_by;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t version = 1;
  std::vector<ParticipantRecord> participants;
};

// Who is acting, as the JWT and the connection say.
struct Actor {
  std::string sub;
  Role role = Role::patient;
  std::string remote_addr;
};

// A committed change to a call: the call as it now is, the status it left,
// who made the change (the actor's sub), and what happened, for the
// observers' log lines and metrics.
struct CallUpdate {
  CallRecord call;
  std::optional<CallStatus> from;  // nullopt for a new call
  std::string by;
  // created, joined, reconnecting, left, invited, or the terminal status
  // reached (ended, missed, cancelled).
  std::string event;
  std::string user;    // the participant concerned (joined, reconnecting, left, invited)
  std::string reason;  // left: left or timeout; an end: its reason
};

JsonPtr call_to_json(const CallRecord& call, bool with_participants);

// Ids from the platform (patients, providers, appointments, users) and short
// codes (end reasons): 1 to 128 letters, digits or "._:@-". Anything else is
// refused before it reaches a row.
bool is_platform_id(std::string_view s);

}  // namespace vytal
