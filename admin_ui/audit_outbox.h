// Admin audit rows on their way to the call log's audit_log. The call log
// has one writer (signald), so vytal-admin and vytalctl never write it:
// each record is first stored in admin.db's audit_outbox (durably, before
// the action it records is answered), then AuditShipper posts the oldest
// records, in order, to signald's local channel (POST /internal/audit on
// VYTAL_SIGNALD_CONTROL_SOCKET) and deletes them once signald answers that
// they are committed. Records carry a UUIDv7 id, so a record sent twice
// (an answer lost) is written once. The outbox is bounded: when it is full
// (signald down for long), add() fails and the caller refuses the action,
// so nothing that was acknowledged goes unaudited.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "appliance_status/http_client.h"
#include "call_log/audit_record.h"
#include "common/clock.h"
#include "common/handles.h"
#include "common/result.h"
#include "common/sqlite.h"

namespace vytal {

inline constexpr int64_t kAuditOutboxCapacity = 100000;

class AuditOutbox {
 public:
  AuditOutbox(sqlite3* db, const Clock& clock, int64_t capacity = kAuditOutboxCapacity)
      : db_(db), clock_(clock), capacity_(capacity) {}
  // Stored durably; error "audit_unavailable" when full or admin.db fails.
  Result<bool> add(const AuditRecord& record);
  // The oldest `n` records with their sequence numbers, oldest first.
  // Whether add() would take a record now (check before an action, so the
  // action is not done when its record could not be kept).
  bool has_room() { return size() < capacity_; }
  Result<std::vector<std::pair<int64_t, std::string>>> oldest(int n);
  bool remove_through(int64_t seq);
  // Moves one record to audit_refused with signald's reason.
  bool set_aside(int64_t seq, const std::string& reason);
  int64_t size();
  int64_t refused();
  // When the oldest waiting record was stored (Unix ms); 0 when none waits.
  int64_t oldest_stored_at();

 private:
  sqlite3* db_;
  const Clock& clock_;
  int64_t capacity_;
};

// Posts one batch (a JSON array of records) to signald's /internal/audit.
// True once signald answered that it committed them; error
// "audit_record_refused" when it refused their content (HTTP 400) or the
// batch's size (413), which sending the same again will not change.
Result<bool> deliver_audit_batch(const HttpTarget& signald, const std::string& records_json);

// Sends everything in the outbox now, in order, kMaxAuditRecordsPerPost at a
// time; returns how many records were delivered, or the error that stopped
// it (vytalctl uses this once). When signald refuses a batch's content, the
// batch goes again one record at a time, and a record refused alone is set
// aside (AuditOutbox::set_aside) rather than holding up every later one.
Result<int64_t> flush_audit_outbox(AuditOutbox& outbox, const HttpTarget& signald);

// vytal-admin's delivery thread: wakes on wake() or every few seconds, sends
// what waits (backing off while signald is down). Owns its own admin.db
// connection. Stops and joins in the destructor.
class AuditShipper {
 public:
  AuditShipper(SqlitePtr db, const Clock& clock, HttpTarget signald);
  ~AuditShipper();
  AuditShipper(const AuditShipper&) = delete;
  AuditShipper& operator=(const AuditShipper&) = delete;
  void wake();
  // Records waiting, as of the last pass (for the overview).
  int64_t waiting() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  void run();

  SqlitePtr db_;
  const Clock& clock_;
  HttpTarget signald_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  int64_t waiting_ = 0;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace vytal
