#include "http/http_metrics.h"

#include "common/prometheus.h"

namespace vytal {

std::span<const char* const> http_server_rejection_reasons() {
  static constexpr const char* kReasons[] = {
      "max_connections",    "max_connections_per_ip", "accept_failed",   "malformed_http",
      "headers_too_large",  "body_too_large",         "request_timeout", "write_timeout",
      "ws_binary_message",  "ws_message_too_big",     "ws_invalid_utf8", "ws_too_many_fragments",
      "ws_protocol_error",  "ws_slow_consumer",       "ws_ping_timeout", "ws_output_memory",
      "local_peer_refused",  // the local channel: a peer neither the server's user nor root
  };
  return kReasons;
}

void HttpMetrics::know_rejection_reasons(std::span<const char* const> reasons) {
  for (const char* r : reasons) rejected_.try_emplace(r, 0);
}

void HttpMetrics::count_request(std::string_view route, std::string_view method, int status) {
  ++requests_[{std::string(route), std::string(method), status}];
}

void HttpMetrics::count_rejected(std::string_view reason) {
  auto it = rejected_.find(reason);
  if (it == rejected_.end()) it = rejected_.emplace(std::string(reason), 0).first;
  ++it->second;
}

uint64_t HttpMetrics::rejected(std::string_view reason) const {
  auto it = rejected_.find(reason);
  uint64_t n = it == rejected_.end() ? 0 : it->second;
  if (auto e = rejected_elsewhere_.find(reason); e != rejected_elsewhere_.end()) n += e->second->load();
  return n;
}

void HttpMetrics::count_rejected_from(std::string reason, const std::atomic<uint64_t>* counter) {
  if (counter)
    rejected_elsewhere_[std::move(reason)] = counter;
  else
    rejected_elsewhere_.erase(reason);
}

void HttpMetrics::render(std::string& out) const {
  metric_line(out, "# HELP vytal_http_requests_total HTTP requests answered, by route, method and status.\n");
  metric_line(out, "# TYPE vytal_http_requests_total counter\n");
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    metric_line(out, "vytal_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n", route.c_str(),
                method.c_str(), status, static_cast<unsigned long long>(n));
  }
  metric_line(out, "# HELP vytal_rejected_total Requests and connections refused, by reason.\n");
  metric_line(out, "# TYPE vytal_rejected_total counter\n");
  std::map<std::string_view, uint64_t> all;
  for (const auto& [reason, n] : rejected_) all[reason] += n;
  for (const auto& [reason, counter] : rejected_elsewhere_) all[reason] += counter->load();
  for (const auto& [reason, n] : all)
    metric_line(out, "vytal_rejected_total{reason=\"%.*s\"} %llu\n", static_cast<int>(reason.size()), reason.data(),
                static_cast<unsigned long long>(n));
  metric_line(out, "# HELP vytal_open_connections Client connections open now.\n# TYPE vytal_open_connections gauge\n");
  metric_line(out, "vytal_open_connections %lld\n", static_cast<long long>(open_connections_));
  metric_line(out, "# HELP vytal_ws_output_bytes Unsent WebSocket bytes held for all clients.\n");
  metric_line(out, "# TYPE vytal_ws_output_bytes gauge\nvytal_ws_output_bytes %zu\n", ws_output_bytes);
}

}  // namespace vytal
