// The TURN revocations file: "<user>[@<call id>] <until unix seconds>" lines
// that the TURN plugin re-reads within 200 ms of a change and refuses. It is
// kept by a thread of its own so the event loop never writes it: revoke() and
// unrevoke() only queue a change (constant time, whatever the file's size);
// the thread applies the changes and replaces the file atomically at most
// every kCoalesceMs (so a revocation reaches the plugin within
// kCoalesceMs + 200 ms, inside its one-second promise). Entries past their
// time are dropped at each write; beyond max_entries those expiring first
// are dropped too, and counted (a cap, so the file the plugin re-reads stays
// small). At start the previous run's file is loaded: revocations survive a
// restart of signald.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace vytal {

class RevocationFile {
 public:
  static constexpr int64_t kCoalesceMs = 200;

  // Loads `path` (entries still valid at now_s) and starts the writer thread.
  RevocationFile(std::string path, size_t max_entries, int64_t now_s);
  // Writes what is still queued, then stops the thread.
  ~RevocationFile();
  RevocationFile(const RevocationFile&) = delete;
  RevocationFile& operator=(const RevocationFile&) = delete;

  // Event loop: queue a change; now_s is the loop's clock (the thread drops
  // entries expired at the latest now_s it was given).
  void revoke(const std::string& user, int64_t until_s, int64_t now_s);
  void unrevoke(const std::string& user, int64_t now_s);
  // Blocks until every change queued before the call is in the file (tests,
  // shutdown).
  void flush();

  // Any thread.
  size_t loaded() const { return loaded_; }
  uint64_t writes() const { return writes_.load(); }
  size_t entries() const { return entries_.load(); }
  const std::atomic<uint64_t>& dropped_over_cap() const { return dropped_; }
  const std::atomic<uint64_t>& write_failures() const { return failures_; }

 private:
  struct Change {
    std::string user;
    int64_t until_s;  // 0: lift the revocation
  };
  void run();
  void write(int64_t now_s);

  const std::string path_;
  const size_t max_entries_;
  size_t loaded_ = 0;
  std::unordered_map<std::string, int64_t> revoked_;  // writer thread (and the constructor)

  std::mutex mu_;
  std::condition_variable wake_, written_cv_;
  std::vector<Change> queued_;
  int64_t latest_now_s_ = 0;
  uint64_t queued_seq_ = 0, written_seq_ = 0;
  bool stopping_ = false;

  std::atomic<uint64_t> writes_{0}, dropped_{0}, failures_{0};
  std::atomic<size_t> entries_{0};
  std::thread thread_;
};

}  // namespace vytal
