// Signaling's per-connection state, shared by signaling.cc and
// signaling_live.cc (the admin's view and actions). Event loop only.
#pragma once

#include <cstdint>
#include <string>

#include "signald/signaling/signaling.h"

namespace vytal {

// Memory per idle connection is a target (docs/BENCHMARKS.md): the fields are
// ordered so that the small ones share one word.
struct Signaling::Session {
  uint64_t id = 0;
  WsLink link;
  std::string user;
  std::string remote_addr;
  // The room this connection is in, null when none; its call id is
  // room->first. A room outlives every session pointing at it: a session
  // leaves (or is told the call ended) before its room goes.
  RoomEntry* room = nullptr;
  double tokens = 0;
  int64_t refill_ms = 0;                    // the *_ms deadlines here are monotonic (Clock::monotonic_ms)
  int64_t flood_window_ms = INT64_MIN / 2;  // "long ago"
  uint32_t dropped_in_window = 0;
  Role role = Role::patient;
  bool joining = false;  // a join is being recorded
  bool media_failure_counted = false;
  int64_t ice_refresh_ms = 0;
  int64_t last_quality_ms = INT64_MIN / 2;
  int64_t token_exp_s = 0;  // the JWT's exp: no new join and no fresh TURN credentials after it

  const std::string& call_id() const { return room->first; }
  Actor actor() const { return Actor{user, role, remote_addr}; }
};

}  // namespace vytal
