// Signaling's per-connection state, shared by signaling.cc and
// signaling_live.cc (the admin's view and actions). Event loop only.
#pragma once

#include <cstdint>
#include <string>

#include "signald/signaling/signaling.h"

namespace vytal {

struct Signaling::Session {
  uint64_t id = 0;
  WsLink link;
  std::string user;
  Role role = Role::patient;
  bool media_failure_counted = false;  // here, in role's padding: one more word would cost 16 bytes per connection
  std::string remote_addr;
  std::string call_id;       // the room this connection is in; empty when none
  std::string joining_call;  // the call a join in progress is for; empty when none
  double tokens = 0;
  int64_t refill_ms = 0;                    // the *_ms deadlines here are monotonic (Clock::monotonic_ms)
  int64_t flood_window_ms = INT64_MIN / 2;  // "long ago"
  uint32_t dropped_in_window = 0;
  int64_t ice_refresh_ms = 0;
  int64_t last_quality_ms = INT64_MIN / 2;
  int64_t token_exp_s = 0;  // the JWT's exp: no new join and no fresh TURN credentials after it

  Actor actor() const { return Actor{user, role, remote_addr}; }
};

}  // namespace vytal
