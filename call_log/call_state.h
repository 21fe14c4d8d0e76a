// The call state machine. A call is created scheduled, goes active when the
// second participant joins, and ends in exactly one terminal status:
//
//   scheduled --start--> active --end--> ended
//   scheduled --end----> missed      (hung up before anyone answered)
//   scheduled --cancel-> cancelled
//   scheduled|active --fail--> failed
//
// Terminal statuses never change again; billing reads durations from them.
#pragma once

#include <optional>
#include <string_view>

namespace vytal {

enum class CallStatus { scheduled, active, ended, missed, cancelled, failed };
enum class CallEvent { start, end, cancel, fail };

inline constexpr CallStatus kAllCallStatuses[] = {CallStatus::scheduled, CallStatus::active,    CallStatus::ended,
                                                  CallStatus::missed,    CallStatus::cancelled, CallStatus::failed};

const char* call_status_name(CallStatus s);
std::optional<CallStatus> parse_call_status(std::string_view name);
const char* call_event_name(CallEvent e);

// The status after `event`, or nullopt when the event is not allowed in `from`.
std::optional<CallStatus> next_call_status(CallStatus from, CallEvent event);
bool is_terminal(CallStatus s);

}  // namespace vytal
