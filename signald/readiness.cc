#include "signald/readiness.h"

#include <utility>

namespace vytal {

void ReadinessProbe::check(std::function<void(bool)> done) {
  int64_t now = clock_.monotonic_ms();
  if (last_ && now - last_ms_ < interval_ms_) return done(*last_);
  if (in_flight_) {
    if (waiting_.size() >= kMaxWaiting) return done(last_.value_or(false));
    waiting_.push_back(std::move(done));
    return;
  }
  // The probe is a write like the calls' (the same ordered queue): ready
  // means a write reaches the disk now, not that the process is up.
  if (!call_log_.has_room()) {
    last_ = false;
    last_ms_ = now;
    return done(false);
  }
  waiting_.push_back(std::move(done));
  in_flight_ = true;
  ++probes_;
  bool queued = call_log_.submit([](CallWriter& w) { return w.record_readiness(); },
                                 [this](bool committed) { finished(committed); }, CallLog::WhenFull::refuse);
  if (!queued) finished(false);
}

void ReadinessProbe::finished(bool ready) {
  in_flight_ = false;
  last_ = ready;
  last_ms_ = clock_.monotonic_ms();
  std::vector<std::function<void(bool)>> waiting;
  waiting.swap(waiting_);
  for (auto& done : waiting) done(ready);
}

}  // namespace vytal
