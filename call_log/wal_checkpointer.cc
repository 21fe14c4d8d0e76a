#include "call_log/wal_checkpointer.h"

#include <chrono>

#include "common/log.h"

namespace vytal {

WalCheckpointer::WalCheckpointer(SqlitePtr db, int interval_ms)
    : db_(std::move(db)), interval_ms_(interval_ms), thread_([this] { run(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::run() {
  for (;;) {
    bool last;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stopping_; });
      last = stopping_;
    }
    int wal_frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) LOG_WARN("call log: checkpoint failed: %s", sqlite3_errmsg(db_.get()));
    if (last) return;
  }
}

}  // namespace vytal
