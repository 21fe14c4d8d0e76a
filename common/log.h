// One line per event; journald adds the time and the unit. Never log
// secrets, tokens or patient data beyond ids.
//
// Under systemd, when $JOURNAL_STREAM says standard error is the journal,
// lines go to journald natively (sd_journal_send) with PRIORITY and, for
// events about a call, the structured fields CALL_ID= and USER_ID=, so
// `journalctl CALL_ID=<id>` shows a call's story across signald and syncd.
// Elsewhere they go to standard error as "<level>: <message>", the message
// carrying the same ids as call=<id> user=<id>.
//
// Repeated identical warnings and errors are rate-limited (RepeatFilter):
// the first is written, the repeats within ten seconds are counted and the
// count written once: "<message> (repeated N times)". Thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vytal {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

// The ids an event is about; empty ones are left out.
struct LogFields {
  std::string_view call_id;
  std::string_view user_id;
};

std::optional<LogLevel> parse_log_level(std::string_view name);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// An event about a call (and a participant): the ids become journal fields,
// and " call=<id> user=<id>" ends the message.
void log_event(LogLevel level, const LogFields& fields, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
// Writes the pending "(repeated N times)" lines now (at exit; tests).
void log_flush();
inline void log_flush_repeats() { log_flush(); }
// While one lives on a thread, the lines that thread writes to standard
// error are kept and go out in one write when the outermost one ends (and
// every 64 KiB). For a loop turn that logs a burst at once: the call log's
// completions of one commit batch. Lines from other threads may come out
// between them; the journal still gets each line as it is logged (one
// datagram is one entry), and so does a test's sink.
class LogBatch {
 public:
  LogBatch();
  ~LogBatch();
  LogBatch(const LogBatch&) = delete;
  LogBatch& operator=(const LogBatch&) = delete;
};
// Lines to a file in the standard error format (tests); nullptr: back to the default.
void set_log_output(FILE* out);

// Where lines go: the journal when $JOURNAL_STREAM names standard error,
// else standard error. Tests replace it (nullptr: back to the default).
using LogSink = std::function<void(LogLevel level, const LogFields& fields, std::string_view message)>;
void set_log_sink(LogSink sink);

// The rate limiter of repeated warnings and errors, on an injected clock.
// A line is written the first time; the same line again within
// kRepeatWindowMs of that is only counted, whatever else is logged in
// between; once the window has passed, the count is told on its own line
// ("<line> (repeated N times)") before the next line of any kind, and the
// line is written again when it next occurs. At most kMaxTracked distinct
// lines are followed at once (the oldest is told and dropped first).
class RepeatFilter {
 public:
  static constexpr int64_t kRepeatWindowMs = 10000;
  static constexpr size_t kMaxTracked = 64;
  struct Summary {
    LogLevel level;
    std::string text;  // "<line> (repeated N times)"
  };
  struct Verdict {
    std::vector<Summary> summaries;  // written first
    bool write = true;               // whether to write this line
  };
  Verdict check(LogLevel level, std::string_view line, int64_t now_ms);
  // Every count not yet told.
  std::vector<Summary> flush();

 private:
  struct Followed {
    LogLevel level;
    int64_t since_ms;
    uint64_t repeats;
  };
  void tell(std::map<std::string, Followed, std::less<>>::iterator it, std::vector<Summary>* out);
  std::map<std::string, Followed, std::less<>> followed_;
};

}  // namespace vytal

#define VLOG(level, ...)                                                     \
  do {                                                                       \
    if (::vytal::log_enabled(level)) ::vytal::log_write(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) VLOG(::vytal::LogLevel::debug, __VA_ARGS__)
#define LOG_INFO(...) VLOG(::vytal::LogLevel::info, __VA_ARGS__)
#define LOG_WARN(...) VLOG(::vytal::LogLevel::warn, __VA_ARGS__)
#define LOG_ERROR(...) VLOG(::vytal::LogLevel::error, __VA_ARGS__)
