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
  int last_frames = 0;
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
    // Close behind while the log is long and still being written; an idle
    // log, all copied, waits the whole interval.
    bool writing = copied < wal_frames || wal_frames != last_frames;
    wait_ms = wal_frames >= catch_up_frames_ && writing ? kCatchUpIntervalMs : interval_ms_;
    last_frames = wal_frames;
  }
}

}  // namespace vytal
