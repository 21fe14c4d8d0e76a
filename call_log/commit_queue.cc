#include "call_log/commit_queue.h"

#include <algorithm>
#include <cassert>
#include <chrono>

#include "common/log.h"

namespace vytal {

CommitQueue::CommitQueue(event_base* base, SqlitePtr db, std::unique_ptr<CallWriter> writer, CommitQueueOptions options,
                         const Clock& clock, CommitStats& stats, std::function<void()> after_completions)
    : options_(options),
      clock_(clock),
      stats_(stats),
      after_completions_(std::move(after_completions)),
      db_(std::move(db)),
      writer_(std::move(writer)),
      savepoint_(db_.get(), "SAVEPOINT w"),
      release_(db_.get(), "RELEASE w"),
      rollback_to_(db_.get(), "ROLLBACK TO w"),
      completed_event_(event_new(base, -1, 0, &CommitQueue::on_completed, this)) {
  thread_ = std::thread([this] { run(); });
}

CommitQueue::~CommitQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void CommitQueue::submit(CommitTaskPtr task) {
  assert(has_room());
  if (in_flight_++ == 0) waiting_since_ms_ = clock_.monotonic_ms();
  {
    std::lock_guard lock(mu_);
    queued_.push_back(Item{std::move(task)});
  }
  wake_.notify_one();
}

bool CommitQueue::making_progress(int64_t stuck_ms) const {
  return in_flight_ == 0 || clock_.monotonic_ms() - waiting_since_ms_ < stuck_ms;
}

void CommitQueue::submit_at_shutdown(CommitTaskPtr task) {
  {
    std::lock_guard lock(mu_);
    queued_.push_back(Item{std::move(task), false});
  }
  wake_.notify_one();
}

void CommitQueue::run() {
  std::vector<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) return;  // stopping and drained
      // Everything that arrived while the previous batch was being fsynced
      // goes into this one: the batch grows with the load by itself.
      size_t n = std::min(queued_.size(), static_cast<size_t>(options_.max_batch));
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queued_.front()));
        queued_.pop_front();
      }
    }
    commit_batch(batch);
    {
      std::lock_guard lock(mu_);
      for (Item& item : batch)
        if (item.notify) completed_.push_back(std::move(item));
    }
    batch.clear();
    event_active(completed_event_.get(), 0, 0);
  }
}

bool CommitQueue::begin() {
  std::string error;
  if (sqlite_exec(db_.get(), "BEGIN IMMEDIATE", &error)) return true;
  LOG_ERROR("call log: cannot begin a transaction: %s", error.c_str());
  stats_.failures.fetch_add(1);
  return false;  // every item stays committed = false
}

void CommitQueue::commit_batch(std::vector<Item>& batch) {
  sqlite3* db = db_.get();
  // Nearly every batch has no failing write, so it runs as it is: a savepoint
  // for each write would copy every page that write touches, in case it has
  // to be undone. If one does fail, the whole transaction is rolled back and
  // the batch runs again with a savepoint for each write (run_isolated).
  if (!begin()) return;
  writer_->begin_batch();
  // A write that fails, or after which the database ended the transaction
  // (a full disk), sends the batch to the second way.
  bool all_ran = std::all_of(batch.begin(), batch.end(),
                             [&](Item& item) { return item.task->run(*writer_) && !sqlite3_get_autocommit(db); });
  if (!all_ran) {
    if (!sqlite3_get_autocommit(db)) sqlite_exec(db, "ROLLBACK", nullptr);
    writer_->undo_batch();
    if (!begin() || !run_isolated(batch)) return;
  } else {
    for (Item& item : batch) item.committed = true;
  }
  std::string error;
  auto t0 = std::chrono::steady_clock::now();
  bool ok = sqlite_exec(db, "COMMIT", &error);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!ok) {
    LOG_ERROR("call log: commit failed, %zu write(s) not acknowledged: %s", batch.size(), error.c_str());
    sqlite_exec(db, "ROLLBACK", nullptr);
    stats_.failures.fetch_add(1);
    for (Item& item : batch) item.committed = false;
    return;
  }
  stats_.commit_seconds.observe(seconds);
  stats_.transactions.fetch_add(1);
  stats_.writes.fetch_add(std::count_if(batch.begin(), batch.end(), [](const Item& i) { return i.committed; }));
}

bool CommitQueue::run_isolated(std::vector<Item>& batch) {
  sqlite3* db = db_.get();
  for (Item& item : batch) {
    bool ok = savepoint_.step() == SQLITE_DONE;
    savepoint_.reset();
    item.committed = ok && item.task->run(*writer_);
    if (!item.committed) {
      // A write reports failure for the database failing; anything else is a
      // bug in the write (a refusal must return its error, not fail).
      int rc = sqlite3_errcode(db);
      if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
        LOG_ERROR("call log: a write reported failure without a database error; it was rolled back");
      else
        LOG_ERROR("call log: write failed and was rolled back: %s", sqlite3_errmsg(db));
      rollback_to_.step();
      rollback_to_.reset();
    }
    release_.step();
    release_.reset();
    if (sqlite3_get_autocommit(db)) {
      // A full disk or an I/O error rolls back the whole transaction: nothing
      // of this batch is in the call log, and nothing after this point may
      // run outside a transaction and be answered as failed while on disk.
      LOG_ERROR("call log: the transaction ended early (%s); the batch of %zu is not recorded", sqlite3_errmsg(db),
                batch.size());
      stats_.failures.fetch_add(1);
      for (Item& i : batch) i.committed = false;
      return false;
    }
  }
  return true;
}

void CommitQueue::on_completed(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<CommitQueue*>(arg);
  std::vector<Item> done;
  {
    std::lock_guard lock(self->mu_);
    done.swap(self->completed_);
  }
  self->in_flight_ -= done.size();
  self->waiting_since_ms_ = self->clock_.monotonic_ms();
  LogBatch lines;  // the batch's log lines (one per call changed) in one write
  for (Item& item : done) item.task->complete(item.committed);
  if (self->after_completions_) self->after_completions_();
}

}  // namespace vytal
