#include "signald/subject_limits.h"

#include <algorithm>
#include <cmath>

namespace vytal {

int64_t SubjectLimits::take(Buckets& buckets, const std::string& sub, double per_minute, double burst) {
  if (per_minute <= 0) return 0;
  int64_t now = clock_.monotonic_ms();
  // Memory stays bounded by the subjects active in the last minutes: a
  // bucket that has refilled completely is the same as no bucket.
  if (now - pruned_ms_ >= 60000) {
    pruned_ms_ = now;
    for (Buckets* b : {&creates_, &writes_, &service_}) {
      std::erase_if(*b, [&](const auto& e) {
        double rate = b == &service_   ? s_.service_writes_per_minute
                      : b == &creates_ ? s_.creates_per_minute
                                       : s_.writes_per_minute;
        double cap = b == &service_ ? s_.service_writes_per_minute : b == &creates_ ? s_.create_burst : s_.write_burst;
        return e.second.tokens + static_cast<double>(now - e.second.at_ms) * rate / 60000.0 >= cap;
      });
    }
  }
  auto [it, fresh] = buckets.try_emplace(sub, Bucket{burst, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst, b.tokens + static_cast<double>(now - b.at_ms) * per_minute / 60000.0);
  b.at_ms = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) * 60.0 / per_minute)));
}

int64_t SubjectLimits::charge(const std::string& sub, Role role, WriteKind kind) {
  if (privileged(role)) {
    if (s_.service_writes_per_minute <= 0) return 0;
    return take(service_, sub, s_.service_writes_per_minute, s_.service_writes_per_minute);
  }
  if (kind == WriteKind::create) return take(creates_, sub, s_.creates_per_minute, s_.create_burst);
  return take(writes_, sub, s_.writes_per_minute, s_.write_burst);
}

bool SubjectLimits::open_session(const std::string& sub, Role role) {
  if (privileged(role) || s_.max_sessions <= 0) return true;
  int& n = sessions_[sub];
  if (n >= s_.max_sessions) return false;
  ++n;
  return true;
}

void SubjectLimits::close_session(const std::string& sub, Role role) {
  if (privileged(role) || s_.max_sessions <= 0) return;
  auto it = sessions_.find(sub);
  if (it != sessions_.end() && --it->second <= 0) sessions_.erase(it);
}

}  // namespace vytal
