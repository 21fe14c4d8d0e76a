#include "common/log.h"

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace vytal {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
const char* const kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (int i = 0; i < 4; ++i)
    if (name == kNames[i]) return static_cast<LogLevel>(i);
  if (name == "warning") return LogLevel::warn;
  return std::nullopt;
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void log_write(LogLevel level, const char* fmt, ...) {
  // One buffer and one write so lines from two threads never interleave.
  char line[1024];
  int n = std::snprintf(line, sizeof line, "%s: ", kNames[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  size_t len = n + (m < 0 ? 0 : std::min<size_t>(m, sizeof line - n - 2));
  line[len++] = '\n';
  std::fwrite(line, 1, len, stderr);
}

}  // namespace vytal
