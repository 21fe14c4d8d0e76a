// signald's counters and gauges, served at /metrics in the Prometheus text
// format: the HTTP server's, signaling's, the clients' quality reports, call
// failures, the TURN plugin's reports, calls by status, the call log's
// commits, the build and the process, and the appliance's gauges (disk,
// certificates, key ring, TURN reachability). Every labelled series is
// exported from the start (signald/metric_labels.h). Event loop thread only,
// except `commits` (written by the commit thread, atomics).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "call_log/call_record.h"
#include "call_log/call_state.h"
#include "call_log/commit_stats.h"
#include "common/prometheus.h"
#include "http/http_metrics.h"

namespace vytal {

// Renders gauges read at scrape time (signald/appliance_gauges.h).
class GaugeSource {
 public:
  virtual ~GaugeSource() = default;
  virtual void render(std::string& out) const = 0;
};

class RevocationFile;

class Metrics : public HttpMetrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;
  void set_call_counts(const std::map<CallStatus, int64_t>& counts);
  // A committed change to a call (the call log's observer): calls by
  // status, calls started, failures seen in the call log.
  void call_changed(const CallUpdate& update);
  void count_ws_message(std::string_view type);
  void count_call_failure(std::string_view reason);
  // One quality report as a client sent it (before sampling): RTT and jitter
  // in milliseconds, loss as a fraction.
  void observe_quality(std::optional<double> rtt_ms, std::optional<double> jitter_ms, std::optional<double> loss);
  // An allocation appeared (+1) or went (-1) on a transport.
  void turn_allocation(std::string_view transport, int delta);
  void turn_relayed(int64_t bytes_sent, int64_t bytes_received);
  // The TURN plugin's refusals by reason, as it counts them (cumulative since
  // the TURN server started).
  void set_turn_refused(std::string_view reason, int64_t count);

  size_t ws_sessions = 0;
  size_t unsettled_calls = 0;                   // calls whose record of who is in them is being written again
  uint64_t turn_reports = 0;                    // allocation and usage reports from the TURN plugin
  int64_t turn_reports_dropped_by_plugin = 0;   // as the plugin counts them
  uint64_t readiness_probes = 0;                // probe writes made for /readyz
  const RevocationFile* revocations = nullptr;  // TurnLink's, while it lives
  CommitStats commits;
  const GaugeSource* gauges = nullptr;

  std::string render() const;

 private:
  std::map<CallStatus, int64_t> calls_;
  uint64_t calls_started_ = 0;
  std::map<std::string, uint64_t, std::less<>> ws_messages_;
  std::map<std::string, uint64_t, std::less<>> call_failures_;
  std::map<std::string, int64_t, std::less<>> turn_allocations_;
  uint64_t turn_allocations_total_ = 0;
  uint64_t turn_bytes_sent_ = 0, turn_bytes_received_ = 0;
  Histogram quality_rtt_ms_, quality_jitter_ms_, quality_loss_;
  std::map<std::string, int64_t, std::less<>> turn_refused_;
};

}  // namespace vytal
