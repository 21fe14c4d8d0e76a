// Counters and gauges served at /metrics in the Prometheus text format.
// Request, rejection, connection and call counters belong to the event loop
// thread; the commit histogram is written by the commit thread (atomics).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "signald/call_state.h"

namespace vytal {

class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                     0.05,   0.1,   0.25,  0.5,   1.0,  2.5};
  void observe(double seconds);
  void render(std::string& out, const char* name, const char* help) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> count_{0};
};

class Metrics {
 public:
  void count_request(std::string_view route, std::string_view method, int status);
  void count_rejected(std::string_view reason);
  void connection_opened() { ++open_connections_; }
  void connection_closed() { --open_connections_; }
  void set_call_counts(const std::map<CallStatus, int64_t>& counts);
  void call_changed(std::optional<CallStatus> from, CallStatus to);
  uint64_t rejected(std::string_view reason) const;
  void count_ws_message(std::string_view type);
  size_t ws_sessions = 0;
  uint64_t turn_reports = 0;                   // allocation and usage reports from the TURN plugin
  int64_t turn_reports_dropped_by_plugin = 0;  // as the plugin counts them

  Histogram db_commit_seconds;
  std::atomic<uint64_t> db_transactions{0};
  std::atomic<uint64_t> db_writes{0};
  std::atomic<uint64_t> db_commit_failures{0};

  std::string render() const;

 private:
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t, std::less<>> rejected_;
  std::map<CallStatus, int64_t> calls_;
  std::map<std::string, uint64_t, std::less<>> ws_messages_;
  int64_t open_connections_ = 0;
};

}  // namespace vytal
