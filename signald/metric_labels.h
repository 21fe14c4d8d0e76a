// Every label value of signald's labelled counters and gauges, in one place:
// each series is exported from the start at 0 (a rate() or an alert needs
// the series before the first event), and a client can never mint a new
// one. tests/unit/signald/metric_labels_test.cc checks that every literal
// reason counted in the code is listed here.
#pragma once

#include <span>

namespace vytal {

// vytal_rejected_total{reason}: signald's own refusals (REST, WebSocket
// admission and signaling, the TURN link, the call log's write path); the
// HTTP server's are http_server_rejection_reasons().
std::span<const char* const> signald_rejection_reasons();

// vytal_call_failures_total{reason}:
//   media_failed       a participant's browser reported that its media
//                      connection failed (ICE found no path, or lost it and
//                      could not restart)
//   reconnect_timeout  a participant dropped and did not come back within
//                      VYTAL_RECONNECT_GRACE_SECONDS
std::span<const char* const> call_failure_reasons();

// vytal_turn_allocations{transport}: the client-to-TURN transports the
// plugin reports.
std::span<const char* const> turn_transports();

// vytal_turn_refused_total{reason}: the TURN plugin's refusal counters, as
// its "counters" datagrams name them (turn_plugin/README.md).
std::span<const char* const> turn_refusal_reasons();

// vytal_ws_messages_total{type}: the signaling message types (and "other").
std::span<const char* const> ws_message_types();

}  // namespace vytal
