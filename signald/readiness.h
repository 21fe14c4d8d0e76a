// Whether the call log takes durable writes now, as GET /readyz reports it.
// /readyz needs no token, so a probe write per request would let anyone turn
// requests into fsyncs: at most one probe write is made per interval,
// whatever the number of requests. A request answers from the last probe
// when it is younger than the interval; otherwise it starts one (or waits for
// the one in flight) and answers with its outcome. Event loop only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "call_log/call_log.h"
#include "common/clock.h"

namespace vytal {

class ReadinessProbe {
 public:
  static constexpr int64_t kDefaultIntervalMs = 1000;
  static constexpr size_t kMaxWaiting = 10000;  // beyond: answered from the last result

  ReadinessProbe(CallLog& call_log, const Clock& clock, int64_t interval_ms = kDefaultIntervalMs)
      : call_log_(call_log), clock_(clock), interval_ms_(interval_ms) {}

  // `done(ready)` runs now or once the probe in flight has ended.
  void check(std::function<void(bool ready)> done);
  // Probe writes made so far (vytal_readiness_probes_total).
  uint64_t probes() const { return probes_; }

 private:
  void finished(bool ready);

  CallLog& call_log_;
  const Clock& clock_;
  int64_t interval_ms_;
  std::optional<bool> last_;
  int64_t last_ms_ = 0;  // monotonic
  bool in_flight_ = false;
  uint64_t probes_ = 0;
  std::vector<std::function<void(bool)>> waiting_;
};

}  // namespace vytal
