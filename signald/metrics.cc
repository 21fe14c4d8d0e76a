#include "signald/metrics.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace vytal {
namespace {

void line(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void line(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min<size_t>(n, sizeof buf - 1));
}

}  // namespace

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const char* name, const char* help) const {
  line(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    line(out, "%s_bucket{le=\"%g\"} %llu\n", name, kBounds[i], static_cast<unsigned long long>(cumulative));
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  line(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, static_cast<unsigned long long>(cumulative));
  line(out, "%s_sum %.6f\n", name, sum_us_.load(std::memory_order_relaxed) / 1e6);
  line(out, "%s_count %llu\n", name, static_cast<unsigned long long>(count_.load(std::memory_order_relaxed)));
}

void Metrics::count_request(std::string_view route, std::string_view method, int status) {
  ++requests_[{std::string(route), std::string(method), status}];
}

void Metrics::count_rejected(std::string_view reason) {
  auto it = rejected_.find(reason);
  if (it == rejected_.end()) it = rejected_.emplace(std::string(reason), 0).first;
  ++it->second;
}

uint64_t Metrics::rejected(std::string_view reason) const {
  auto it = rejected_.find(reason);
  return it == rejected_.end() ? 0 : it->second;
}

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

void Metrics::set_call_counts(const std::map<CallStatus, int64_t>& counts) { calls_ = counts; }

void Metrics::call_changed(std::optional<CallStatus> from, CallStatus to) {
  if (from == to) return;
  if (from) --calls_[*from];
  ++calls_[to];
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(4096);
  line(out, "# HELP vytal_http_requests_total HTTP requests answered, by route, method and status.\n");
  line(out, "# TYPE vytal_http_requests_total counter\n");
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    line(out, "vytal_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n", route.c_str(),
         method.c_str(), status, static_cast<unsigned long long>(n));
  }
  line(out, "# HELP vytal_rejected_total Requests and connections refused, by reason.\n");
  line(out, "# TYPE vytal_rejected_total counter\n");
  for (const auto& [reason, n] : rejected_)
    line(out, "vytal_rejected_total{reason=\"%s\"} %llu\n", reason.c_str(), static_cast<unsigned long long>(n));
  line(out, "# HELP vytal_open_connections Client connections open now.\n# TYPE vytal_open_connections gauge\n");
  line(out, "vytal_open_connections %lld\n", static_cast<long long>(open_connections_));
  line(out, "# HELP vytal_ws_sessions Signaling WebSocket connections open now.\n# TYPE vytal_ws_sessions gauge\n");
  line(out, "vytal_ws_sessions %zu\n", ws_sessions);
  line(out, "# HELP vytal_ws_messages_total Signaling messages received, by type.\n");
  line(out, "# TYPE vytal_ws_messages_total counter\n");
  for (const auto& [type, n] : ws_messages_)
    line(out, "vytal_ws_messages_total{type=\"%s\"} %llu\n", type.c_str(), static_cast<unsigned long long>(n));
  line(out, "# HELP vytal_turn_reports_total Allocation and usage reports received from the TURN plugin.\n");
  line(out, "# TYPE vytal_turn_reports_total counter\nvytal_turn_reports_total %llu\n",
       static_cast<unsigned long long>(turn_reports));
  line(
      out,
      "# HELP vytal_turn_reports_dropped_total Reports the TURN plugin dropped (signald's socket was full or gone).\n");
  line(out, "# TYPE vytal_turn_reports_dropped_total counter\nvytal_turn_reports_dropped_total %lld\n",
       static_cast<long long>(turn_reports_dropped_by_plugin));
  line(out, "# HELP vytal_calls Calls in the call log, by status.\n# TYPE vytal_calls gauge\n");
  for (CallStatus s : kAllCallStatuses) {
    auto it = calls_.find(s);
    line(out, "vytal_calls{status=\"%s\"} %lld\n", call_status_name(s),
         static_cast<long long>(it == calls_.end() ? 0 : it->second));
  }
  auto active = calls_.find(CallStatus::active);
  line(out, "# HELP vytal_active_calls Calls in progress.\n# TYPE vytal_active_calls gauge\n");
  line(out, "vytal_active_calls %lld\n", static_cast<long long>(active == calls_.end() ? 0 : active->second));
  db_commit_seconds.render(out, "vytal_db_commit_seconds", "Time to commit one call log transaction (fsync included).");
  line(out, "# HELP vytal_db_transactions_total Call log transactions committed.\n");
  line(out, "# TYPE vytal_db_transactions_total counter\nvytal_db_transactions_total %llu\n",
       static_cast<unsigned long long>(db_transactions.load()));
  line(out, "# HELP vytal_db_writes_total Writes committed (several per transaction with group commit).\n");
  line(out, "# TYPE vytal_db_writes_total counter\nvytal_db_writes_total %llu\n",
       static_cast<unsigned long long>(db_writes.load()));
  line(out, "# HELP vytal_db_commit_failures_total Transactions that failed to commit.\n");
  line(out, "# TYPE vytal_db_commit_failures_total counter\nvytal_db_commit_failures_total %llu\n",
       static_cast<unsigned long long>(db_commit_failures.load()));
  return out;
}

}  // namespace vytal
