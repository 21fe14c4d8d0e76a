#include "common/prometheus.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace vytal {

void metric_line(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min<size_t>(n, sizeof buf - 1));
}

void Histogram::observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const char* name, const char* help) const {
  metric_line(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    metric_line(out, "%s_bucket{le=\"%g\"} %llu\n", name, kBounds[i], static_cast<unsigned long long>(cumulative));
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  metric_line(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, static_cast<unsigned long long>(cumulative));
  metric_line(out, "%s_sum %.6f\n", name, sum_us_.load(std::memory_order_relaxed) / 1e6);
  metric_line(out, "%s_count %llu\n", name, static_cast<unsigned long long>(count_.load(std::memory_order_relaxed)));
}

}  // namespace vytal
