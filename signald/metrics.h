// signald's counters and gauges, served at /metrics in the Prometheus text
// format: the HTTP server's, signaling's, the TURN plugin's reports, calls
// by status, and the call log's commits. Event loop thread only, except
// `commits` (written by the commit thread, atomics).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "call_log/call_state.h"
#include "call_log/commit_stats.h"
#include "http/http_metrics.h"

namespace vytal {

class RevocationFile;

class Metrics : public HttpMetrics {
 public:
  Metrics() { count_rejected_from("audit_suppressed", &commits.audits_suppressed); }
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;
  void set_call_counts(const std::map<CallStatus, int64_t>& counts);
  void call_changed(std::optional<CallStatus> from, CallStatus to);
  void count_ws_message(std::string_view type);
  // The TURN plugin's refusals by reason, as it counts them (cumulative since
  // the TURN server started).
  void set_turn_refused(std::string_view reason, int64_t count);
  size_t ws_sessions = 0;
  uint64_t turn_reports = 0;                    // allocation and usage reports from the TURN plugin
  int64_t turn_reports_dropped_by_plugin = 0;   // as the plugin counts them
  uint64_t readiness_probes = 0;                // probe writes made for /readyz
  const RevocationFile* revocations = nullptr;  // TurnLink's, while it lives
  CommitStats commits;

  std::string render() const;

 private:
  std::map<CallStatus, int64_t> calls_;
  std::map<std::string, uint64_t, std::less<>> ws_messages_;
  std::map<std::string, int64_t, std::less<>> turn_refused_;
};

}  // namespace vytal
