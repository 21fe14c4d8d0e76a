#include "signald/subject_limits.h"

#include <algorithm>
#include <cmath>

namespace vytal {

int64_t SubjectLimits::take(Buckets& buckets, const std::string& sub) {
  if (buckets.per_minute <= 0) return 0;
  int64_t now = clock_.monotonic_ms();
  auto refilled = [now](const Buckets& k, const Bucket& b) {
    return std::min(k.burst, b.tokens + static_cast<double>(now - b.at_ms) * k.per_minute / 60000.0);
  };
  // Memory stays bounded by the subjects active in the last minutes: a
  // bucket that has refilled completely is the same as no bucket.
  if (now - pruned_ms_ >= 60000) {
    pruned_ms_ = now;
    for (Buckets* k : {&creates_, &writes_, &service_, &denials_})
      std::erase_if(k->by_subject, [&](const auto& e) { return refilled(*k, e.second) >= k->burst; });
  }
  Bucket& b = buckets.by_subject.try_emplace(sub, Bucket{buckets.burst, now}).first->second;
  b.tokens = refilled(buckets, b);
  b.at_ms = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  // Whole seconds until one token is back.
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) * 60.0 / buckets.per_minute)));
}

int64_t SubjectLimits::charge(const std::string& sub, Role role, WriteKind kind) {
  if (privileged(role)) return take(service_, sub);
  return take(kind == WriteKind::create ? creates_ : writes_, sub);
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
