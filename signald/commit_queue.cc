#include "signald/commit_queue.h"

#include <chrono>

#include "common/log.h"
#include "signald/call_log_schema.h"

namespace vytal {
namespace {
constexpr int kWalRestartFrames = 8192;  // 32 MiB of 4 KiB pages
}  // namespace

Result<std::unique_ptr<CommitQueue>> CommitQueue::open(event_base* base, CommitQueueOptions options, const Clock& clock,
                                                       Metrics& metrics) {
  auto db = sqlite_open(options.db_path, SqliteOpenOptions{});
  if (!db) return db.error();
  auto migrated = apply_migrations(db.value().get(), call_log_migrations(), clock.now_ms());
  if (!migrated) return migrated.error();
  if (migrated.value() > 0)
    LOG_INFO("call log: applied %d migration(s), schema version %d", migrated.value(),
             schema_version(db.value().get()));

  std::string error;
  if (!sqlite_exec(db.value().get(), "PRAGMA journal_size_limit=67108864", &error)) return Error{"sqlite_open", error};
  // The checkpointer thread copies the log into the database as it grows. Under
  // a steady stream of commits it can never catch up completely, so once the
  // log is long the commit thread finishes the small remainder itself, which
  // lets the next transaction start the log from its beginning again.
  sqlite3_wal_hook(
      db.value().get(),
      [](void*, sqlite3* wdb, const char*, int frames) {
        if (frames >= kWalRestartFrames)
          sqlite3_wal_checkpoint_v2(wdb, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        return SQLITE_OK;
      },
      nullptr);
  auto checkpoint_db = sqlite_open(options.db_path, SqliteOpenOptions{});
  if (!checkpoint_db) return checkpoint_db.error();

  std::unique_ptr<CommitQueue> q(new CommitQueue());
  q->checkpointer_ = std::make_unique<WalCheckpointer>(std::move(checkpoint_db.value()), 100);
  q->options_ = std::move(options);
  q->clock_ = &clock;
  q->metrics_ = &metrics;
  q->db_ = std::move(db.value());
  q->savepoint_ = Statement(q->db_.get(), "SAVEPOINT w");
  q->release_ = Statement(q->db_.get(), "RELEASE w");
  q->rollback_to_ = Statement(q->db_.get(), "ROLLBACK TO w");
  q->writer_ = std::make_unique<CallWriter>(q->db_.get(), clock, q->options_.max_participants);
  q->completed_event_ = event_new(base, -1, 0, &CommitQueue::on_completed, q.get());
  q->thread_ = std::thread([raw = q.get()] { raw->run(); });
  return q;
}

CommitQueue::~CommitQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (completed_event_) event_free(completed_event_);
}

bool CommitQueue::submit(Work work, Done done) {
  if (!has_room()) return false;
  if (in_flight_++ == 0) waiting_since_ms_ = clock_->monotonic_ms();
  {
    std::lock_guard lock(mu_);
    queued_.push_back(Item{std::move(work), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

bool CommitQueue::making_progress(int64_t stuck_ms) const {
  return in_flight_ == 0 || clock_->monotonic_ms() - waiting_since_ms_ < stuck_ms;
}

void CommitQueue::submit_at_shutdown(Work work) {
  {
    std::lock_guard lock(mu_);
    queued_.push_back(Item{std::move(work), nullptr});
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
      for (Item& item : batch) completed_.push_back(std::move(item));
    }
    batch.clear();
    event_active(completed_event_, 0, 0);
  }
}

void CommitQueue::commit_batch(std::vector<Item>& batch) {
  sqlite3* db = db_.get();
  std::string error;
  if (!sqlite_exec(db, "BEGIN IMMEDIATE", &error)) {
    LOG_ERROR("call log: cannot begin a transaction: %s", error.c_str());
    metrics_->db_commit_failures.fetch_add(1);
    return;  // every item stays committed = false
  }
  size_t writes = 0;
  for (Item& item : batch) {
    bool ok = savepoint_.step() == SQLITE_DONE;
    savepoint_.reset();
    item.committed = ok && item.work(*writer_);
    if (!item.committed) {
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
      metrics_->db_commit_failures.fetch_add(1);
      for (Item& i : batch) i.committed = false;
      return;
    }
    writes += item.committed;
  }
  auto t0 = std::chrono::steady_clock::now();
  bool ok = sqlite_exec(db, "COMMIT", &error);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!ok) {
    LOG_ERROR("call log: commit failed, %zu write(s) not acknowledged: %s", batch.size(), error.c_str());
    sqlite_exec(db, "ROLLBACK", nullptr);
    metrics_->db_commit_failures.fetch_add(1);
    for (Item& item : batch) item.committed = false;
    return;
  }
  metrics_->db_commit_seconds.observe(seconds);
  metrics_->db_transactions.fetch_add(1);
  metrics_->db_writes.fetch_add(writes);
}

void CommitQueue::on_completed(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<CommitQueue*>(arg);
  std::vector<Item> done;
  {
    std::lock_guard lock(self->mu_);
    done.swap(self->completed_);
  }
  self->in_flight_ -= done.size();
  self->waiting_since_ms_ = self->clock_->monotonic_ms();
  for (Item& item : done)
    if (item.done) item.done(item.committed);
}

}  // namespace vytal
