#include "call_log/wal_checkpointer.h"

#include <chrono>

#include "common/log.h"

namespace vytal {

namespace {
constexpr int kCatchUpIntervalMs = 5;
}

WalCheckpointer::WalCheckpointer(SqlitePtr db, int interval_ms, int catch_up_frames)
    : db_(std::move(db)), interval_ms_(interval_ms), catch_up_frames_(catch_up_frames), thread_([this] { run(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::run() {
  int wait_ms = interval_ms_;
  int last_frames = 0, last_copied = 0;
  for (;;) {
    bool last;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stopping_; });
      last = stopping_;
    }
    int wal_frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) LOG_WARN("call log: checkpoint failed: %s", sqlite3_errmsg(db_.get()));
    if (last) return;
    if (rc != SQLITE_OK) continue;  // busy (another checkpoint): nothing learnt, same pace
    // Close behind while the log is long and moving (written to, or copied
    // from); a log that is idle, or held by a reader's old snapshot, waits
    // the whole interval.
    bool moving = wal_frames != last_frames || copied != last_copied;
    wait_ms = wal_frames >= catch_up_frames_ && moving ? kCatchUpIntervalMs : interval_ms_;
    last_frames = wal_frames;
    last_copied = copied;
  }
}

}  // namespace vytal
