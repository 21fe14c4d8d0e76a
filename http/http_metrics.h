// The counters every HTTP server here keeps: requests by route, method and
// status, refusals by reason, open connections. Event loop thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>

namespace vytal {

// The refusal reasons the HTTP server itself counts (connection caps,
// parsing, timeouts, WebSocket framing); a program adds its own.
std::span<const char* const> http_server_rejection_reasons();

class HttpMetrics {
 public:
  // Every reason is exported from the start, at 0 (a rate() needs the
  // series before the first event); others still count when they occur.
  HttpMetrics() { know_rejection_reasons(http_server_rejection_reasons()); }
  void know_rejection_reasons(std::span<const char* const> reasons);
  void count_request(std::string_view route, std::string_view method, int status);
  void count_rejected(std::string_view reason);
  uint64_t rejected(std::string_view reason) const;
  // A refusal another thread counts (the commit thread, a file writer):
  // rendered as vytal_rejected_total{reason} with the others. The counter
  // must outlive this object, or be forgotten first (counter null).
  void count_rejected_from(std::string reason, const std::atomic<uint64_t>* counter);
  void connection_opened() { ++open_connections_; }
  void connection_closed() { --open_connections_; }
  size_t ws_output_bytes = 0;  // unsent WebSocket bytes, all connections (the server sets it)
  // Appends vytal_http_requests_total, vytal_rejected_total, vytal_open_connections
  // and vytal_ws_output_bytes.
  void render(std::string& out) const;

 private:
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t, std::less<>> rejected_;
  std::map<std::string, const std::atomic<uint64_t>*, std::less<>> rejected_elsewhere_;
  int64_t open_connections_ = 0;
};

}  // namespace vytal
