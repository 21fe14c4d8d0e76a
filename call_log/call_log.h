// The call log as signald uses it: the one owner of its connections (the
// writer, owned by the commit thread; a read-only one for the event loop; the
// checkpointer's), of the ordered write path, of restart recovery and of the
// heartbeat. Every write of the REST API and of signaling goes through
// submit() or record(), so writes reach the log in the order they were made;
// after each committed change to a call the observers hear of it, from here
// only. Event loop thread only, except where a method says otherwise.
#pragma once

#include <event2/event.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "call_log/call_log_options.h"
#include "call_log/call_reader.h"
#include "call_log/call_writer.h"
#include "call_log/commit_queue.h"
#include "call_log/commit_stats.h"
#include "call_log/commit_task.h"
#include "call_log/wal_checkpointer.h"
#include "common/clock.h"
#include "common/handles.h"
#include "common/result.h"

namespace vytal {

// The error a completion receives when its write is not in the call log
// (the transaction failed: disk full, I/O error, the database locked too long).
inline constexpr const char* kCallLogUnavailable = "call_log_unavailable";

// A completion that does nothing: record() uses it.
struct NoCompletion {
  template <typename... A>
  void operator()(A&&...) const {}
};

class CallLog {
 public:
  using Observer = std::function<void(const CallUpdate&)>;

  // When the queue is full: refuse (the caller answers "overloaded"), or wait
  // in order behind the writes already waiting (up to kMaxDeferredWrites).
  enum class WhenFull { refuse, wait };
  static constexpr size_t kMaxDeferredWrites = 100000;

  // Opens (creating if needed) the call log, applies migrations, recovers
  // from the previous run (stranded()), starts the commit and checkpoint
  // threads and the heartbeat. Needs evthread_use_pthreads() before `base`
  // was made. `rejected` counts call_log_write_deferred/lost.
  static Result<std::unique_ptr<CallLog>> open(event_base* base, CallLogOptions options, const Clock& clock,
                                               CommitStats& stats, std::function<void(const char*)> rejected);
  // Hands the writes still deferred to the commit thread and commits
  // everything queued before returning (the event loop has stopped).
  ~CallLog();
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  // Reads on the event loop (WAL: never blocked by the commit thread; an
  // acknowledged write is always visible).
  CallReader& reader() { return *reader_; }
  // The participants the previous run left in open calls, now reconnecting.
  const std::vector<StrandedParticipant>& stranded() const { return stranded_; }

  // Queues a write whose outcome someone waits for. `work(CallWriter&)` runs
  // on the commit thread inside the transaction and returns either Result<T>
  // (an error other than the database failing is committed: the audit row of
  // a refusal stays) or bool (false: the database failed). `done` runs on the
  // event loop once the transaction ended, with the Result<T> (or the error
  // kCallLogUnavailable when the write is not in the call log), or with
  // whether the bool write committed. Either may be move-only. Returns false
  // when refused (queue full and WhenFull::refuse, or kMaxDeferredWrites
  // waiting): `done` is then never called.
  template <typename Work, typename Done>
  bool submit(Work work, Done done, WhenFull when_full) {
    return enqueue(std::make_unique<Task<Work, Done>>(this, std::move(work), std::move(done)), when_full);
  }
  // Whether a write with WhenFull::refuse would be taken now.
  bool has_room() {
    flush_deferred();
    return deferred_.empty() && queue_->has_room();
  }
  // Writes nobody waits for (a drop, a leave, a quality sample, the all_left
  // end): in order, waiting when the queue is full.
  template <typename Work>
  void record(Work work) {
    submit(std::move(work), NoCompletion{}, WhenFull::wait);
  }

  // Told of every committed change to a call, in commit order.
  void observe(Observer observer) { observers_.push_back(std::move(observer)); }

  // For the watchdog: false once writes have waited stuck_ms with none finishing.
  bool making_progress(int64_t stuck_ms) const { return queue_->making_progress(stuck_ms); }

 private:
  template <typename Work, typename Done>
  class Task;
  CallLog(std::function<void(const char*)> rejected) : rejected_(std::move(rejected)) {}
  bool enqueue(CommitTaskPtr task, WhenFull when_full);
  void flush_deferred();
  void notify(const CallUpdate& update) const {
    for (const Observer& o : observers_) o(update);
  }
  static void on_heartbeat(evutil_socket_t, short, void* self) noexcept;

  std::function<void(const char*)> rejected_;
  SqlitePtr read_db_;
  std::unique_ptr<CallReader> reader_;
  std::vector<StrandedParticipant> stranded_;
  std::unique_ptr<WalCheckpointer> checkpointer_;
  std::unique_ptr<CommitQueue> queue_;
  std::deque<CommitTaskPtr> deferred_;  // writes the full queue could not take yet, in order
  std::vector<Observer> observers_;
  EventPtr heartbeat_;
};

// Whether an error is the database failing (the write is rolled back), as
// opposed to a refusal the call log records (forbidden, invalid_transition...).
bool is_db_failure(const Error& error);

template <typename Work, typename Done>
class CallLog::Task final : public CommitTask {
  using R = std::invoke_result_t<Work&, CallWriter&>;

 public:
  Task(CallLog* log, Work work, Done done) : log_(log), work_(std::move(work)), done_(std::move(done)) {}
  bool run(CallWriter& writer) override {
    if constexpr (std::is_same_v<R, bool>) {
      return work_(writer);
    } else {
      result_.emplace(work_(writer));
      return result_->ok() || !is_db_failure(result_->error());
    }
  }
  void complete(bool committed) override {
    if constexpr (std::is_same_v<R, bool>) {
      done_(committed);
    } else {
      if (!committed || !result_)
        return done_(R(Error{kCallLogUnavailable, "the call log could not record this; retry later"}));
      if constexpr (std::is_same_v<R, Result<CallUpdate>>)
        if (result_->ok()) log_->notify(result_->value());
      done_(std::move(*result_));
    }
  }

 private:
  CallLog* log_;
  Work work_;
  Done done_;
  std::optional<R> result_;
};

}  // namespace vytal
