#include "signald/metrics.h"

#include "common/prometheus.h"
#include "signald/metric_labels.h"
#include "signald/revocation_file.h"

namespace vytal {
namespace {

constexpr double kRttBoundsMs[] = {25, 50, 100, 150, 200, 300, 400, 600, 1000, 2000};
constexpr double kJitterBoundsMs[] = {5, 10, 20, 30, 50, 100, 200};
constexpr double kLossBounds[] = {0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2};

void count(std::map<std::string, uint64_t, std::less<>>& counters, std::string_view key) {
  auto it = counters.find(key);
  if (it == counters.end()) it = counters.emplace(std::string(key), 0).first;
  ++it->second;
}

}  // namespace

Metrics::Metrics() : quality_rtt_ms_(kRttBoundsMs), quality_jitter_ms_(kJitterBoundsMs), quality_loss_(kLossBounds) {
  count_rejected_from("audit_suppressed", &commits.audits_suppressed);
  know_rejection_reasons(signald_rejection_reasons());
  for (const char* t : ws_message_types()) ws_messages_.emplace(t, 0);
  for (const char* r : turn_refusal_reasons()) turn_refused_.emplace(r, 0);
  for (const char* r : call_failure_reasons()) call_failures_.emplace(r, 0);
  for (const char* t : turn_transports()) turn_allocations_.emplace(t, 0);
}

void Metrics::count_ws_message(std::string_view type) {
  // Only known types become labels: a client must not mint series.
  count(ws_messages_, ws_messages_.count(type) ? type : "other");
}

void Metrics::count_call_failure(std::string_view reason) {
  if (call_failures_.count(reason)) count(call_failures_, reason);
}

void Metrics::set_turn_refused(std::string_view reason, int64_t count) {
  // Only known reasons become labels: a datagram must not mint series.
  auto it = turn_refused_.find(reason);
  if (it != turn_refused_.end()) it->second = count;
}

void Metrics::set_call_counts(const std::map<CallStatus, int64_t>& counts) { calls_ = counts; }

void Metrics::call_changed(const CallUpdate& u) {
  CallStatus to = u.call.status;
  if (u.from == CallStatus::scheduled && to == CallStatus::active) ++calls_started_;
  // A participant lost from a call in progress (one waiting alone for the
  // other side to answer is not a failed call).
  if (u.event == "left" && u.reason == "timeout" && to == CallStatus::active) count_call_failure("reconnect_timeout");
  if (u.from == to) return;
  if (u.from) --calls_[*u.from];
  ++calls_[to];
}

void Metrics::observe_quality(std::optional<double> rtt_ms, std::optional<double> jitter_ms,
                              std::optional<double> loss) {
  if (rtt_ms) quality_rtt_ms_.observe(*rtt_ms);
  if (jitter_ms) quality_jitter_ms_.observe(*jitter_ms);
  if (loss) quality_loss_.observe(*loss);
}

void Metrics::turn_allocation(std::string_view transport, int delta) {
  auto it = turn_allocations_.find(transport);
  if (it == turn_allocations_.end()) return;  // a transport we do not know: not a label
  it->second += delta;
  if (delta > 0) turn_allocations_total_ += delta;
}

void Metrics::turn_relayed(int64_t bytes_sent, int64_t bytes_received) {
  if (bytes_sent > 0) turn_bytes_sent_ += bytes_sent;
  if (bytes_received > 0) turn_bytes_received_ += bytes_received;
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(16384);
  render_build_info(out);
  render_process_metrics(out);
  HttpMetrics::render(out);
  metric_line(out,
              "# HELP vytal_ws_sessions Signaling WebSocket connections open now.\n# TYPE vytal_ws_sessions gauge\n");
  metric_line(out, "vytal_ws_sessions %zu\n", ws_sessions);
  metric_line(out,
              "# HELP vytal_unsettled_calls Calls whose record of who is in them the call log could not take yet "
              "(written again every 5 s).\n# TYPE vytal_unsettled_calls gauge\n");
  metric_line(out, "vytal_unsettled_calls %zu\n", unsettled_calls);
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
              "# HELP vytal_turn_allocations TURN relay allocations open now, by the client's transport (from the "
              "plugin's reports).\n# TYPE vytal_turn_allocations gauge\n");
  for (const auto& [transport, n] : turn_allocations_)
    metric_line(out, "vytal_turn_allocations{transport=\"%s\"} %lld\n", transport.c_str(), static_cast<long long>(n));
  metric_line(out, "# HELP vytal_turn_allocations_total TURN relay allocations made.\n");
  metric_line(out, "# TYPE vytal_turn_allocations_total counter\nvytal_turn_allocations_total %llu\n",
              static_cast<unsigned long long>(turn_allocations_total_));
  metric_line(out,
              "# HELP vytal_turn_relayed_bytes_total Bytes relayed by the TURN server, as the plugin reports "
              "them (sent: to the clients; received: from them).\n# TYPE vytal_turn_relayed_bytes_total counter\n");
  metric_line(out, "vytal_turn_relayed_bytes_total{direction=\"sent\"} %llu\n",
              static_cast<unsigned long long>(turn_bytes_sent_));
  metric_line(out, "vytal_turn_relayed_bytes_total{direction=\"received\"} %llu\n",
              static_cast<unsigned long long>(turn_bytes_received_));
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
  metric_line(out, "# HELP vytal_calls_started_total Calls that started (their second participant joined).\n");
  metric_line(out, "# TYPE vytal_calls_started_total counter\nvytal_calls_started_total %llu\n",
              static_cast<unsigned long long>(calls_started_));
  metric_line(out, "# HELP vytal_call_failures_total Calls that failed for a participant, by reason.\n");
  metric_line(out, "# TYPE vytal_call_failures_total counter\n");
  for (const auto& [reason, n] : call_failures_)
    metric_line(out, "vytal_call_failures_total{reason=\"%s\"} %llu\n", reason.c_str(),
                static_cast<unsigned long long>(n));
  quality_rtt_ms_.render(out, "vytal_quality_rtt_milliseconds",
                         "Round-trip time of the media path, as the clients' quality reports say (getStats).");
  quality_jitter_ms_.render(out, "vytal_quality_jitter_milliseconds",
                            "Jitter of received audio, as the clients' quality reports say.");
  quality_loss_.render(out, "vytal_quality_packet_loss_ratio",
                       "Fraction of packets lost, as the clients' quality reports say.");
  commits.render(out);
  if (gauges) gauges->render(out);
  return out;
}

}  // namespace vytal
