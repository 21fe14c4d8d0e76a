#include "common/log.h"

#define SD_JOURNAL_SUPPRESS_LOCATION  // our call site says nothing useful: one logging function
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace vytal {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
const char* const kNames[] = {"debug", "info", "warn", "error"};
const int kPriorities[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};

// $JOURNAL_STREAM is "<device>:<inode>" of the stream systemd connected to
// standard error (systemd.exec(5)); it only counts while fd 2 is still that.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

void to_journal(LogLevel level, const LogFields& f, std::string_view message) {
  int prio = kPriorities[static_cast<int>(level)];
  int len = static_cast<int>(message.size());
  if (!f.call_id.empty() && !f.user_id.empty())
    sd_journal_send("MESSAGE=%.*s", len, message.data(), "PRIORITY=%d", prio, "CALL_ID=%.*s",
                    static_cast<int>(f.call_id.size()), f.call_id.data(), "USER_ID=%.*s",
                    static_cast<int>(f.user_id.size()), f.user_id.data(), nullptr);
  else if (!f.call_id.empty())
    sd_journal_send("MESSAGE=%.*s", len, message.data(), "PRIORITY=%d", prio, "CALL_ID=%.*s",
                    static_cast<int>(f.call_id.size()), f.call_id.data(), nullptr);
  else if (!f.user_id.empty())
    sd_journal_send("MESSAGE=%.*s", len, message.data(), "PRIORITY=%d", prio, "USER_ID=%.*s",
                    static_cast<int>(f.user_id.size()), f.user_id.data(), nullptr);
  else
    sd_journal_send("MESSAGE=%.*s", len, message.data(), "PRIORITY=%d", prio, nullptr);
}

constexpr size_t kMaxBatchBytes = 64 << 10;
thread_local int t_batch_depth = 0;
thread_local std::string t_batch;  // lines kept while a LogBatch lives

void write_batch() {
  std::fwrite(t_batch.data(), 1, t_batch.size(), stderr);
  t_batch.clear();
}

void to_stderr(LogLevel level, const LogFields&, std::string_view message) {
  // One buffer and one write so lines from two threads never interleave.
  std::string line = std::string(kNames[static_cast<int>(level)]) + ": ";
  line.append(message);
  line += '\n';
  if (t_batch_depth == 0) {
    std::fwrite(line.data(), 1, line.size(), stderr);
    return;
  }
  t_batch += line;
  if (t_batch.size() >= kMaxBatchBytes) write_batch();
}

struct Logger {
  std::mutex mu;
  LogSink sink;  // nullptr: the default
  bool journal = stderr_is_journal();
  RepeatFilter repeats;

  void emit(LogLevel level, const LogFields& fields, std::string_view message) {
    if (sink)
      sink(level, fields, message);
    else if (journal)
      to_journal(level, fields, message);
    else
      to_stderr(level, fields, message);
  }
};

Logger& logger() {
  static Logger* l = new Logger;  // never destroyed: threads may log during exit
  return *l;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void write_line(LogLevel level, const LogFields& fields, std::string message) {
  Logger& l = logger();
  std::lock_guard lock(l.mu);
  RepeatFilter::Verdict v = l.repeats.check(level, message, steady_ms());
  for (const RepeatFilter::Summary& s : v.summaries) l.emit(s.level, {}, s.text);
  if (v.write) l.emit(level, fields, message);
}

std::string format(const char* fmt, va_list ap) {
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof buf - 1));
}

}  // namespace

void RepeatFilter::tell(std::map<std::string, Followed, std::less<>>::iterator it, std::vector<Summary>* out) {
  if (it->second.repeats > 0)
    out->push_back({it->second.level, it->first + " (repeated " + std::to_string(it->second.repeats) + " times)"});
  followed_.erase(it);
}

RepeatFilter::Verdict RepeatFilter::check(LogLevel level, std::string_view line, int64_t now_ms) {
  Verdict v;
  // Lines whose window has passed: their repeats are told now.
  for (auto it = followed_.begin(); it != followed_.end();) {
    auto next = std::next(it);
    if (now_ms - it->second.since_ms >= kRepeatWindowMs) tell(it, &v.summaries);
    it = next;
  }
  if (level < LogLevel::warn) return v;
  auto it = followed_.find(line);
  if (it != followed_.end() && it->second.level == level) {
    ++it->second.repeats;
    v.write = false;
    return v;
  }
  if (followed_.size() >= kMaxTracked) {
    auto oldest = followed_.begin();
    for (auto f = followed_.begin(); f != followed_.end(); ++f)
      if (f->second.since_ms < oldest->second.since_ms) oldest = f;
    tell(oldest, &v.summaries);
  }
  followed_.insert_or_assign(std::string(line), Followed{level, now_ms, 0});
  return v;
}

std::vector<RepeatFilter::Summary> RepeatFilter::flush() {
  std::vector<Summary> out;
  while (!followed_.empty()) tell(followed_.begin(), &out);
  return out;
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (int i = 0; i < 4; ++i)
    if (name == kNames[i]) return static_cast<LogLevel>(i);
  if (name == "warning") return LogLevel::warn;
  return std::nullopt;
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void log_write(LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string message = format(fmt, ap);
  va_end(ap);
  write_line(level, {}, std::move(message));
}

void log_event(LogLevel level, const LogFields& fields, const char* fmt, ...) {
  if (!log_enabled(level)) return;
  va_list ap;
  va_start(ap, fmt);
  std::string message = format(fmt, ap);
  va_end(ap);
  if (!fields.call_id.empty()) message.append(" call=").append(fields.call_id);
  if (!fields.user_id.empty()) message.append(" user=").append(fields.user_id);
  write_line(level, fields, std::move(message));
}

void log_flush() {
  Logger& l = logger();
  std::lock_guard lock(l.mu);
  for (const RepeatFilter::Summary& s : l.repeats.flush()) l.emit(s.level, {}, s.text);
}

LogBatch::LogBatch() { ++t_batch_depth; }

LogBatch::~LogBatch() {
  if (--t_batch_depth == 0 && !t_batch.empty()) write_batch();
}

void set_log_output(FILE* out) {
  if (!out) return set_log_sink(nullptr);
  set_log_sink([out](LogLevel level, const LogFields&, std::string_view message) {
    std::string line = std::string(kNames[static_cast<int>(level)]) + ": ";
    line.append(message);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
  });
}

void set_log_sink(LogSink sink) {
  Logger& l = logger();
  std::lock_guard lock(l.mu);
  l.sink = std::move(sink);
}

}  // namespace vytal
