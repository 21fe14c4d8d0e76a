// One line per event to stderr; journald adds the time and the unit.
// Never log secrets, tokens or patient data beyond ids. A line identical to
// one written less than 10 s ago is not written again but counted; the count
// follows as "<line> [repeated N more time(s)]" once the 10 s are over (at
// the next line logged) or at log_flush_repeats().
#pragma once

#include <cstdio>
#include <optional>
#include <string_view>

namespace vytal {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

std::optional<LogLevel> parse_log_level(std::string_view name);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Writes the counts of repeated lines not reported yet (at exit; tests).
void log_flush_repeats();
// Where lines go: stderr (null), or a test's file.
void set_log_output(FILE* out);

}  // namespace vytal

#define VLOG(level, ...)                                                     \
  do {                                                                       \
    if (::vytal::log_enabled(level)) ::vytal::log_write(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) VLOG(::vytal::LogLevel::debug, __VA_ARGS__)
#define LOG_INFO(...) VLOG(::vytal::LogLevel::info, __VA_ARGS__)
#define LOG_WARN(...) VLOG(::vytal::LogLevel::warn, __VA_ARGS__)
#define LOG_ERROR(...) VLOG(::vytal::LogLevel::error, __VA_ARGS__)
