// Group commit: every write to the call log is queued here from the event
// loop, run on one commit thread that owns the writer connection, and
// committed together with the writes queued beside it in one transaction
// (synchronous=FULL, so one fsync acknowledges a whole batch). Each write's
// completion runs back on the event loop only after its transaction committed:
// that is when signald answers 201.
#pragma once

#include <event2/event.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/sqlite.h"
#include "signald/call_writer.h"
#include "signald/metrics.h"
#include "signald/wal_checkpointer.h"

namespace vytal {

struct CommitQueueOptions {
  std::string db_path;
  int max_batch = 512;  // 1 turns group commit off: one transaction per write
  size_t max_pending = 20000;
  int max_participants = 6;
};

class CommitQueue {
 public:
  // Runs on the commit thread inside the open transaction. Returning false
  // means the database failed: that write alone is rolled back.
  using Work = std::function<bool(CallWriter&)>;
  // Runs on the event loop after the transaction ended: committed is false
  // when it could not be committed (the write is not in the call log).
  using Done = std::function<void(bool committed)>;

  // Opens (creating if needed) the call log, applies migrations and starts
  // the commit thread. Needs evthread_use_pthreads() before `base` was made.
  static Result<std::unique_ptr<CommitQueue>> open(event_base* base, CommitQueueOptions options, const Clock& clock,
                                                   Metrics& metrics);
  ~CommitQueue();  // commits what is queued, then stops the thread

  // False when max_pending writes are already waiting (the caller answers 503).
  bool submit(Work work, Done done);
  // Whether submit would take one more write now (event loop thread only).
  bool has_room() const { return in_flight_ < options_.max_pending; }
  // At shutdown, once the event loop has stopped: queued whatever the limit,
  // committed before the destructor returns; nobody hears back.
  void submit_at_shutdown(Work work);
  // For the watchdog: false once writes have waited stuck_ms without any
  // finishing (a hung disk; a locked database is not that: its batches fail
  // after the busy timeout). Event loop thread only.
  bool making_progress(int64_t stuck_ms) const;

 private:
  struct Item {
    Work work;
    Done done;
    bool committed = false;
  };
  CommitQueue() = default;
  void run();
  void commit_batch(std::vector<Item>& batch);
  static void on_completed(evutil_socket_t, short, void* self);

  CommitQueueOptions options_;
  const Clock* clock_ = nullptr;
  Metrics* metrics_ = nullptr;
  SqlitePtr db_;
  std::unique_ptr<CallWriter> writer_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  Statement savepoint_, release_, rollback_to_;  // one write's own scope in the batch
  event* completed_event_ = nullptr;

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
