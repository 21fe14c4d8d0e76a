// Group commit: every write to the call log is queued here from the event
// loop, run on one commit thread that owns the writer connection, and
// committed together with the writes queued beside it in one transaction
// (synchronous=FULL, so one fsync acknowledges a whole batch). Each write's
// completion runs back on the event loop only after its transaction committed:
// that is when signald answers 201. Used only by CallLog.
#pragma once

#include <event2/event.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "call_log/call_writer.h"
#include "call_log/commit_stats.h"
#include "call_log/commit_task.h"
#include "common/clock.h"
#include "common/handles.h"
#include "common/sqlite.h"

namespace vytal {

struct CommitQueueOptions {
  int max_batch = 512;  // 1 turns group commit off: one transaction per write
  size_t max_pending = 20000;
};

class CommitQueue {
 public:
  // Starts the commit thread on `db` (the writer connection, which it owns
  // from now on). Needs evthread_use_pthreads() before `base` was made.
  // `after_completions` runs on the loop after each round of completions.
  CommitQueue(event_base* base, SqlitePtr db, std::unique_ptr<CallWriter> writer, CommitQueueOptions options,
              const Clock& clock, CommitStats& stats, std::function<void()> after_completions);
  ~CommitQueue();  // commits what is queued, then stops the thread
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues one write; only when has_room() (CallLog defers the others).
  void submit(CommitTaskPtr task);
  // Whether submit would take one more write now (event loop thread only).
  bool has_room() const { return in_flight_ < options_.max_pending; }
  // At shutdown, once the event loop has stopped: queued whatever the limit,
  // committed before the destructor returns; nobody hears back.
  void submit_at_shutdown(CommitTaskPtr task);
  // For the watchdog: false once writes have waited stuck_ms without any
  // finishing (a hung disk; a locked database is not that: its batches fail
  // after the busy timeout). Event loop thread only.
  bool making_progress(int64_t stuck_ms) const;

 private:
  struct Item {
    CommitTaskPtr task;
    bool notify = true;  // false for writes queued at shutdown
    bool committed = false;
  };
  void run();
  void commit_batch(std::vector<Item>& batch);
  bool begin();  // BEGIN IMMEDIATE; false (logged, counted) when it fails
  // Runs each write in its own savepoint, rolling back one that fails alone;
  // false when the database ended the whole transaction (nothing recorded).
  bool run_isolated(std::vector<Item>& batch);
  static void on_completed(evutil_socket_t, short, void* self) noexcept;

  CommitQueueOptions options_;
  const Clock& clock_;
  CommitStats& stats_;
  std::function<void()> after_completions_;
  SqlitePtr db_;
  std::unique_ptr<CallWriter> writer_;
  Statement savepoint_, release_, rollback_to_;  // one write's own scope, once a write in the batch failed
  EventPtr completed_event_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> queued_;       // guarded by mu_
  std::vector<Item> completed_;   // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  size_t in_flight_ = 0;          // loop thread only: submitted, not yet done
  int64_t waiting_since_ms_ = 0;  // loop thread only, monotonic: the last completion, or the first submit after none
  std::thread thread_;
};

}  // namespace vytal
