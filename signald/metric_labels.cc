#include "signald/metric_labels.h"

namespace vytal {

std::span<const char* const> signald_rejection_reasons() {
  static constexpr const char* kReasons[] = {
      // REST (docs/PROTOCOL.md: every 400, 401, 403, 405, 415 and 503 code)
      "invalid_json", "validation", "unsupported_media_type", "forbidden", "cors_origin_denied", "method_not_allowed",
      "overloaded", "not_ready", "call_log_unavailable", "db_error",
      // per-subject limits (429) and bounded refusal audits
      "rate_limited", "too_many_open_calls", "too_many_sessions", "audit_suppressed",
      // tokens (REST and the WebSocket handshake)
      "token_missing", "token_malformed", "token_algorithm", "token_signature", "token_expired", "token_not_yet_valid",
      "token_audience", "token_issuer", "token_claims",
      // WebSocket handshake
      "websocket_required", "origin_not_allowed", "websocket_version", "websocket_key", "websocket_protocol",
      // signaling messages
      "ws_rate_limited", "ws_invalid_json", "ws_invalid_message", "ws_unknown_type", "ws_token_expired",
      "ws_join_forbidden", "ws_join_call_not_found", "ws_join_invalid_transition", "ws_join_removed",
      "ws_join_in_progress", "ws_already_joined", "ws_not_joined", "ws_participant_not_found", "ws_overloaded",
      "ws_end_forbidden", "ws_end_call_not_found", "ws_end_invalid_transition", "quality_report_sampled_out",
      // the TURN plugin's reports
      "turn_report_malformed", "turn_report_overloaded", "turn_report_anonymous",
      // the local channel's actions (vytal-admin, vytalctl): 404 and 409
      "call_not_found", "participant_not_found", "call_ended",
      // the call log's ordered write path
      "call_log_write_deferred", "call_log_write_lost"};
  return kReasons;
}

std::span<const char* const> call_failure_reasons() {
  static constexpr const char* kReasons[] = {"media_failed", "reconnect_timeout"};
  return kReasons;
}

std::span<const char* const> turn_transports() {
  static constexpr const char* kTransports[] = {"udp", "tcp", "tls", "dtls"};
  return kTransports;
}

std::span<const char* const> turn_refusal_reasons() {
  static constexpr const char* kReasons[] = {"revoked", "revokedSession", "expired", "ttl",     "malformed",
                                             "keyRing", "quota",          "peer",    "peerPort"};
  return kReasons;
}

std::span<const char* const> ws_message_types() {
  static constexpr const char* kTypes[] = {"join",        "leave",          "offer",    "answer", "ice-candidate",
                                           "media-state", "quality-report", "end-call", "other"};
  return kTypes;
}

}  // namespace vytal
