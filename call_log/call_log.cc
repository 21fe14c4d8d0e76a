#include "call_log/call_log.h"

#include "call_log/schema.h"
#include "common/log.h"

namespace vytal {
namespace {

constexpr int kWalRestartFrames = 8192;  // 32 MiB of 4 KiB pages

// Restart recovery runs alone, before the commit thread starts and before
// anyone can join: one transaction on the writer connection.
Result<std::vector<StrandedParticipant>> recover(sqlite3* db, CallWriter& writer) {
  std::string error;
  if (!sqlite_exec(db, "BEGIN IMMEDIATE", &error)) return Error{"db_error", error};
  auto stranded = writer.recover_after_restart();
  if (!stranded) {
    sqlite_exec(db, "ROLLBACK", nullptr);
    return stranded;
  }
  if (!sqlite_exec(db, "COMMIT", &error)) {
    sqlite_exec(db, "ROLLBACK", nullptr);
    return Error{"db_error", error};
  }
  return stranded;
}

}  // namespace

bool is_db_failure(const Error& error) { return error.code == "db_error"; }

Result<std::unique_ptr<CallLog>> CallLog::open(event_base* base, CallLogOptions options, const Clock& clock,
                                               CommitStats& stats, std::function<void(const char*)> rejected) {
  auto db = sqlite_open(options.db_path, SqliteOpenOptions{});
  if (!db) return db.error();
  auto migrated = apply_migrations(db.value().get(), call_log_migrations(), clock.now_ms());
  if (!migrated) return migrated.error();
  if (migrated.value() > 0)
    LOG_INFO("call log: applied %d migration(s), schema version %d", migrated.value(),
             schema_version(db.value().get()));
  std::string error;
  // Each write runs in a savepoint of the batch's transaction, and SQLite keeps
  // the pages a savepoint changes in a statement journal, a temporary file once
  // over 64 KiB: a create touches about 20 pages, so every write went through
  // some 40 pwrite() calls to that file. In memory it holds one write's pages.
  if (!sqlite_exec(db.value().get(), "PRAGMA journal_size_limit=67108864; PRAGMA temp_store=MEMORY", &error))
    return Error{"sqlite_open", error};
  // The checkpointer thread copies the log into the database as it grows. Under
  // a steady stream of commits it can never catch up completely, so once the
  // log is long the commit thread finishes the remainder itself, which lets
  // the next transaction start the log from its beginning again. From half
  // that length the checkpointer keeps close behind, so the remainder is small.
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
  auto read_db = sqlite_open(options.db_path, SqliteOpenOptions{.read_only = true});
  if (!read_db) return read_db.error();

  auto writer = std::make_unique<CallWriter>(db.value().get(), clock, options.max_participants);
  writer->set_limits(CallWriterLimits{options.max_open_calls_per_patient, options.denied_audits_per_minute},
                     &stats.audits_suppressed);
  auto stranded = recover(db.value().get(), *writer);
  std::unique_ptr<CallLog> log(new CallLog(std::move(rejected)));
  if (stranded)
    log->stranded_ = std::move(stranded.value());
  else  // not fatal: new calls work; the stranded participants stay as they were
    LOG_ERROR("call log: participants left in calls by the previous run could not be recovered: %s",
              stranded.error().message.c_str());
  log->read_db_ = std::move(read_db.value());
  log->reader_ = std::make_unique<CallReader>(log->read_db_.get());
  log->checkpointer_ = std::make_unique<WalCheckpointer>(std::move(checkpoint_db.value()), 100, kWalRestartFrames / 2);
  log->queue_ = std::make_unique<CommitQueue>(base, std::move(db.value()), std::move(writer),
                                              CommitQueueOptions{options.max_batch, options.max_pending}, clock, stats,
                                              [raw = log.get()] { raw->flush_deferred(); });
  // signald records that it is alive, so the next start knows when this run
  // stopped (restart recovery stops participants' time there).
  log->heartbeat_.reset(event_new(base, -1, EV_PERSIST, &CallLog::on_heartbeat, log.get()));
  timeval every{CallWriter::kHeartbeatMs / 1000, 0};
  event_add(log->heartbeat_.get(), &every);
  log->record([](CallWriter& w) { return w.record_readiness(); });
  return log;
}

CallLog::~CallLog() {
  // signald is stopping: the writes still waiting for room in the queue go
  // in now, and the commit queue commits them before it stops.
  if (!deferred_.empty()) LOG_INFO("call log: recording %zu deferred write(s) before stopping", deferred_.size());
  for (CommitTaskPtr& task : deferred_) queue_->submit_at_shutdown(std::move(task));
  queue_.reset();
}

bool CallLog::enqueue(CommitTaskPtr task, WhenFull when_full) {
  // Writes nobody waits for must not be lost: they wait, up to
  // kMaxDeferredWrites, and each round of completions hands them over.
  flush_deferred();
  if (deferred_.empty() && queue_->has_room()) {
    queue_->submit(std::move(task));
    return true;
  }
  if (when_full == WhenFull::refuse) return false;
  if (deferred_.size() >= kMaxDeferredWrites) {
    rejected_("call_log_write_lost");
    return false;
  }
  rejected_("call_log_write_deferred");
  deferred_.push_back(std::move(task));
  return true;
}

void CallLog::flush_deferred() {
  while (!deferred_.empty() && queue_->has_room()) {
    queue_->submit(std::move(deferred_.front()));
    deferred_.pop_front();
  }
}

void CallLog::on_heartbeat(evutil_socket_t, short, void* self) noexcept {
  static_cast<CallLog*>(self)->record([](CallWriter& w) { return w.record_readiness(); });
}

}  // namespace vytal
