#include "call_log/call_state.h"

namespace vytal {

const char* call_status_name(CallStatus s) {
  switch (s) {
    case CallStatus::scheduled: return "scheduled";
    case CallStatus::active: return "active";
    case CallStatus::ended: return "ended";
    case CallStatus::missed: return "missed";
    case CallStatus::cancelled: return "cancelled";
    case CallStatus::failed: return "failed";
  }
  return "?";
}

std::optional<CallStatus> parse_call_status(std::string_view name) {
  for (CallStatus s : kAllCallStatuses)
    if (name == call_status_name(s)) return s;
  return std::nullopt;
}

const char* call_event_name(CallEvent e) {
  switch (e) {
    case CallEvent::start: return "start";
    case CallEvent::end: return "end";
    case CallEvent::cancel: return "cancel";
    case CallEvent::fail: return "fail";
  }
  return "?";
}

bool is_terminal(CallStatus s) { return s != CallStatus::scheduled && s != CallStatus::active; }

std::optional<CallStatus> next_call_status(CallStatus from, CallEvent event) {
  if (from == CallStatus::scheduled) {
    switch (event) {
      case CallEvent::start: return CallStatus::active;
      case CallEvent::end: return CallStatus::missed;
      case CallEvent::cancel: return CallStatus::cancelled;
      case CallEvent::fail: return CallStatus::failed;
    }
  }
  if (from == CallStatus::active) {
    switch (event) {
      case CallEvent::end: return CallStatus::ended;
      case CallEvent::fail: return CallStatus::failed;
      case CallEvent::start:
      case CallEvent::cancel: return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace vytal
