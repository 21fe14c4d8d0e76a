// The Prometheus text format (version 0.0.4): one printf-style line helper,
// a fixed-bucket histogram that any thread may observe into, and what every
// daemon says about itself (build info, process figures from /proc/self).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace vytal {

// Appends one formatted line (at most 511 bytes) to out.
void metric_line(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A histogram with fixed upper bounds (ascending; +Inf is added); observe()
// is lock-free. The sum keeps six decimals.
class Histogram {
 public:
  static constexpr double kSecondsBounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  explicit Histogram(std::span<const double> bounds = kSecondsBounds);
  void observe(double value);
  void render(std::string& out, const char* name, const char* help) const;

 private:
  std::span<const double> bounds_;  // static storage
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> sum_micro_{0};
  std::atomic<uint64_t> count_{0};
};

// vytal_build_info{version,commit} 1.
void render_build_info(std::string& out);
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_cpu_seconds_total, process_open_fds, process_max_fds and
// process_start_time_seconds of this process, from /proc/self (the names of
// Prometheus's client libraries, so the usual dashboards work). A figure that
// cannot be read is left out.
void render_process_metrics(std::string& out);

}  // namespace vytal
