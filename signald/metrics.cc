#include "signald/metrics.h"

#include "common/prometheus.h"
#include "signald/revocation_file.h"

namespace vytal {

void Metrics::count_ws_message(std::string_view type) {
  static constexpr std::string_view kKnown[] = {"join",          "leave",       "offer",          "answer",
                                                "ice-candidate", "media-state", "quality-report", "end-call"};
  // Only known types become labels: a client must not mint series.
  std::string_view label = "other";
  for (std::string_view k : kKnown)
    if (type == k) label = k;
  auto it = ws_messages_.find(label);
  if (it == ws_messages_.end()) it = ws_messages_.emplace(std::string(label), 0).first;
  ++it->second;
}

void Metrics::set_turn_refused(std::string_view reason, int64_t count) {
  static constexpr std::string_view kKnown[] = {"revoked", "revokedSession", "expired", "ttl",     "malformed",
                                                "keyRing", "quota",          "peer",    "peerPort"};
  // Only known reasons become labels: a datagram must not mint series.
  for (std::string_view k : kKnown)
    if (reason == k) turn_refused_[std::string(k)] = count;
}

void Metrics::set_call_counts(const std::map<CallStatus, int64_t>& counts) { calls_ = counts; }

void Metrics::call_changed(std::optional<CallStatus> from, CallStatus to) {
  if (from == to) return;
  if (from) --calls_[*from];
  ++calls_[to];
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(4096);
  HttpMetrics::render(out);
  metric_line(out,
              "# HELP vytal_ws_sessions Signaling WebSocket connections open now.\n# TYPE vytal_ws_sessions gauge\n");
  metric_line(out, "vytal_ws_sessions %zu\n", ws_sessions);
  metric_line(out, "# HELP vytal_ws_messages_total Signaling messages received, by type.\n");
  metric_line(out, "# TYPE vytal_ws_messages_total counter\n");
  for (const auto& [type, n] : ws_messages_)
    metric_line(out, "vytal_ws_messages_total{type=\"%s\"} %llu\n", type.c_str(), static_cast<unsigned long long>(n));
  metric_line(out, "# HELP vytal_turn_reports_total Allocation and usage reports received from the TURN plugin.\n");
  metric_line(out, "# TYPE vytal_turn_reports_total counter\nvytal_turn_reports_total %llu\n",
              static_cast<unsigned long long>(turn_reports));
  metric_line(
      out,
      "# HELP vytal_turn_reports_dropped_total Reports the TURN plugin dropped (signald's socket was full or gone).\n");
  metric_line(out, "# TYPE vytal_turn_reports_dropped_total counter\nvytal_turn_reports_dropped_total %lld\n",
              static_cast<long long>(turn_reports_dropped_by_plugin));
  metric_line(out,
              "# HELP vytal_turn_refused_total TURN requests the plugin or coturn refused, by reason (since the TURN "
              "server started).\n# TYPE vytal_turn_refused_total counter\n");
  for (const auto& [reason, n] : turn_refused_)
    metric_line(out, "vytal_turn_refused_total{reason=\"%s\"} %lld\n", reason.c_str(), static_cast<long long>(n));
  if (revocations) {
    metric_line(out, "# HELP vytal_turn_revocations Entries in the TURN revocations file.\n");
    metric_line(out, "# TYPE vytal_turn_revocations gauge\nvytal_turn_revocations %zu\n", revocations->entries());
    metric_line(out, "# HELP vytal_turn_revocation_writes_total Rewrites of the TURN revocations file (coalesced).\n");
    metric_line(out, "# TYPE vytal_turn_revocation_writes_total counter\nvytal_turn_revocation_writes_total %llu\n",
                static_cast<unsigned long long>(revocations->writes()));
  }
  metric_line(out, "# HELP vytal_readiness_probes_total Probe writes made for /readyz (at most one a second).\n");
  metric_line(out, "# TYPE vytal_readiness_probes_total counter\nvytal_readiness_probes_total %llu\n",
              static_cast<unsigned long long>(readiness_probes));
  metric_line(out, "# HELP vytal_calls Calls in the call log, by status.\n# TYPE vytal_calls gauge\n");
  for (CallStatus s : kAllCallStatuses) {
    auto it = calls_.find(s);
    metric_line(out, "vytal_calls{status=\"%s\"} %lld\n", call_status_name(s),
                static_cast<long long>(it == calls_.end() ? 0 : it->second));
  }
  auto active = calls_.find(CallStatus::active);
  metric_line(out, "# HELP vytal_active_calls Calls in progress.\n# TYPE vytal_active_calls gauge\n");
  metric_line(out, "vytal_active_calls %lld\n", static_cast<long long>(active == calls_.end() ? 0 : active->second));
  commits.render(out);
  return out;
}

}  // namespace vytal
