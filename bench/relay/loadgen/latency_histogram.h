// Send-to-receive latencies in microseconds, in the bucket layout of
// bench/relay/stats.mjs (which merges and reads them): 1 µs buckets below
// 1 ms, then buckets 1 % wide up to about a minute.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace vytal::bench {

class LatencyHistogram {
 public:
  static constexpr int kLinear = 1000;
  static inline const double kStep = std::log(1.01);
  static inline const int kBuckets = kLinear + static_cast<int>(std::ceil(std::log(60e6 / kLinear) / kStep)) + 1;

  LatencyHistogram() : counts_(kBuckets) {}
  void record(double micros) {
    double us = micros < 0 ? 0 : micros;
    int i = us < kLinear ? static_cast<int>(us) : kLinear + static_cast<int>(std::log(us / kLinear) / kStep);
    ++counts_[i < kBuckets ? i : kBuckets - 1];
  }
  const std::vector<uint32_t>& counts() const { return counts_; }

 private:
  std::vector<uint32_t> counts_;
};

}  // namespace vytal::bench
