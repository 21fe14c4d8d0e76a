// signald's local channel: the routes served only on the Unix socket
// VYTAL_SIGNALD_CONTROL_SOCKET (HttpRequest::local), which only signald's own
// user and root can reach. For vytal-admin and vytalctl, which must not write
// the call log themselves:
//
//   POST /internal/audit  {"records":[AuditRecord JSON, ...]} (at most 64)
//     -> 200 {"written":n} once committed through the call log's ordered
//        write path; 400 naming a bad field (nothing written); 503 when the
//        call log is overloaded or failed (the sender retries: records with
//        an id already in audit_log are skipped).
//   GET /internal/healthz -> 200 {"status":"ok","version":...,"startedAt":ms,"pid":n}
//
// Part 2 of the admin page adds live state and actions here. Event loop only.
#pragma once

#include "call_log/call_log.h"
#include "http/http_server.h"
#include "signald/metrics.h"

namespace vytal {

class InternalApi {
 public:
  InternalApi(CallLog& call_log, Metrics& metrics, int64_t started_at_ms)
      : call_log_(call_log), metrics_(metrics), started_at_ms_(started_at_ms) {}
  void handle(HttpRequest& request, Responder responder);

 private:
  void audit(HttpRequest& request, Responder responder);

  CallLog& call_log_;
  Metrics& metrics_;
  int64_t started_at_ms_;
};

}  // namespace vytal
