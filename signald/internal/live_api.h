// The local channel's live view and actions for vytal-admin and vytalctl
// (served only on VYTAL_SIGNALD_CONTROL_SOCKET, like internal_api.h):
//
//   GET  /internal/live[?call=ID]
//     -> 200 {"now":ms,"totalCalls":n,"calls":[{callId, active, members:[{userId,
//        role, state, connectedSince, reconnectingSince, address, quality,
//        history, turn:[...]}]}]} (Signaling::live_json, TurnLink::allocations_json):
//        at most kMaxLiveCalls of the totalCalls rooms: call ID first, then
//        those needing attention (someone reconnecting, poor quality, a failed
//        or dropped connection); 400 validation for any other query.
//   POST /internal/calls/{id}/end                          {actor, actorRole?, reason, remoteAddr?}
//   POST /internal/calls/{id}/participants/{user}/remove   {actor, actorRole?, reason, remoteAddr?}
//     -> 200 once the change and its audit record (action admin.call.end or
//        admin.participant.remove, the reason as detail) are committed;
//        400 invalid_json / validation (reason required); 404 call_not_found /
//        participant_not_found; 409 call_ended; 503 overloaded or
//        call_log_unavailable.
//
// docs/PROTOCOL.md ("signald's local channel") is the reference. Event loop only.
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "http/http_server.h"
#include "signald/metrics.h"
#include "signald/signaling/signaling.h"
#include "signald/turn_link.h"

namespace vytal {

class LiveApi {
 public:
  // The calls one answer lists: the answer is built on the event loop, and a
  // page of call cards is read by a person.
  static constexpr size_t kMaxLiveCalls = 100;

  LiveApi(Signaling& signaling, TurnLink& turn, Metrics& metrics, const Clock& clock)
      : signaling_(signaling), turn_(turn), metrics_(metrics), clock_(clock) {}
  // Whether the path is one of these routes (else InternalApi's).
  static bool handles(const HttpRequest& request);
  void handle(HttpRequest& request, Responder responder);

 private:
  void live(HttpRequest& request, Responder responder);
  void act(HttpRequest& request, Responder responder, const std::string& call_id, const std::string* user);

  Signaling& signaling_;
  TurnLink& turn_;
  Metrics& metrics_;
  const Clock& clock_;
};

}  // namespace vytal
