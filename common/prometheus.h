// The Prometheus text format (version 0.0.4): one printf-style line helper
// and a fixed-bucket histogram that any thread may observe into.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace vytal {

// Appends one formatted line (at most 511 bytes) to out.
void metric_line(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A histogram of durations in seconds; observe() is lock-free.
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

}  // namespace vytal
