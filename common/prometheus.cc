#include "common/prometheus.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/build_info.h"
#include "common/files.h"

namespace vytal {

void metric_line(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min<size_t>(n, sizeof buf - 1));
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<uint64_t>(std::max(0.0, value) * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, const char* name, const char* help) const {
  metric_line(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    metric_line(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds_[i], static_cast<unsigned long long>(cumulative));
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  metric_line(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, static_cast<unsigned long long>(cumulative));
  metric_line(out, "%s_sum %.6f\n", name, sum_micro_.load(std::memory_order_relaxed) / 1e6);
  metric_line(out, "%s_count %llu\n", name, static_cast<unsigned long long>(count_.load(std::memory_order_relaxed)));
}

void render_build_info(std::string& out) {
  metric_line(out, "# HELP vytal_build_info The version and git commit this process was built from.\n");
  metric_line(out, "# TYPE vytal_build_info gauge\nvytal_build_info{version=\"%s\",commit=\"%s\"} 1\n", build_version(),
              build_commit());
}

void render_process_metrics(std::string& out) {
  // /proc/self/stat (proc(5)): fields after the command's closing parenthesis.
  std::string stat = read_file("/proc/self/stat").value_or("");
  size_t close = stat.rfind(')');
  long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  if (close != std::string::npos && ticks > 0) {
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0, rss = 0;
    // state(3) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24)
    for (int i = 3; in >> field && i <= 24; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
      if (i == 22) starttime = std::stoull(field);
      if (i == 23) vsize = std::stoull(field);
      if (i == 24) rss = std::stoull(field);
    }
    metric_line(out, "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n");
    metric_line(out, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n",
                static_cast<double>(utime + stime) / ticks);
    metric_line(out, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
    metric_line(out, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
                rss * static_cast<unsigned long long>(page));
    metric_line(out, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n");
    metric_line(out, "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n", vsize);
    // starttime counts clock ticks since boot: add the boot time (btime, /proc/stat).
    std::ifstream proc_stat("/proc/stat");
    std::string line;
    while (std::getline(proc_stat, line)) {
      if (line.compare(0, 6, "btime ") != 0) continue;
      metric_line(out, "# HELP process_start_time_seconds Start time of the process since the epoch, in seconds.\n");
      metric_line(out, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
                  std::stod(line.substr(6)) + static_cast<double>(starttime) / ticks);
      break;
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent* e = readdir(dir))
      if (e->d_name[0] != '.') ++n;
    closedir(dir);
    metric_line(out, "# HELP process_open_fds Open file descriptors.\n");
    metric_line(out, "# TYPE process_open_fds gauge\nprocess_open_fds %d\n", n - 1);  // minus the one reading
  }
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    metric_line(out, "# HELP process_max_fds The limit of open file descriptors.\n");
    metric_line(out, "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                static_cast<unsigned long long>(files.rlim_cur));
  }
}

}  // namespace vytal
