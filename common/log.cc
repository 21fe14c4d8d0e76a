#include "common/log.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace vytal {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
const char* const kNames[] = {"debug", "info", "warn", "error"};

// Identical lines within kRepeatWindowMs of the first are counted, not
// written: a client that triggers one warning thousands of times a second
// must not flood the journal. A few recent lines are remembered; their
// counts are written when the window ends (at the next line logged) or when
// they are forgotten for a newer line.
constexpr int64_t kRepeatWindowMs = 10000;
struct Recent {
  std::string line;  // as written, without the newline
  int64_t first_ms = 0;
  uint64_t suppressed = 0;
};
std::mutex g_mu;
std::array<Recent, 16> g_recent;
FILE* g_out = nullptr;  // stderr unless a test redirected it

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void emit(const char* data, size_t len) { std::fwrite(data, 1, len, g_out ? g_out : stderr); }

void emit_repeats(Recent& r) {
  if (r.suppressed == 0) return;
  std::string note = r.line + " [repeated " + std::to_string(r.suppressed) + " more time(s)]\n";
  emit(note.data(), note.size());
  r.suppressed = 0;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (int i = 0; i < 4; ++i)
    if (name == kNames[i]) return static_cast<LogLevel>(i);
  if (name == "warning") return LogLevel::warn;
  return std::nullopt;
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void set_log_output(FILE* out) {
  std::lock_guard lock(g_mu);
  g_out = out;
}

void log_flush_repeats() {
  std::lock_guard lock(g_mu);
  for (Recent& r : g_recent) emit_repeats(r);
}

void log_write(LogLevel level, const char* fmt, ...) {
  // One buffer and one write so lines from two threads never interleave.
  char line[1024];
  int n = std::snprintf(line, sizeof line, "%s: ", kNames[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  size_t len = n + (m < 0 ? 0 : std::min<size_t>(m, sizeof line - n - 2));
  std::string_view text(line, len);
  int64_t now = steady_ms();
  std::lock_guard lock(g_mu);
  Recent* same = nullptr;
  Recent* oldest = &g_recent[0];
  for (Recent& r : g_recent) {
    if (r.first_ms && now - r.first_ms >= kRepeatWindowMs) {  // its window is over
      emit_repeats(r);
      if (r.line != text) r = Recent{};
    }
    if (r.first_ms && r.line == text) same = &r;
    if (r.first_ms < oldest->first_ms) oldest = &r;
  }
  if (same && now - same->first_ms < kRepeatWindowMs) {
    ++same->suppressed;
    return;
  }
  if (!same) {
    emit_repeats(*oldest);
    same = oldest;
    same->line.assign(text);
  }
  same->first_ms = now;
  line[len++] = '\n';
  emit(line, len);
}

}  // namespace vytal
