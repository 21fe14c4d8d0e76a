#include "admin_ui/audit_outbox.h"

#include <algorithm>
#include <chrono>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"

namespace vytal {
Result<bool> AuditOutbox::add(const AuditRecord& record) {
  if (size() >= capacity_)
    return Error{"audit_unavailable",
                 "the audit log cannot take more records until signald is back (the outbox is full)"};
  Statement s(db_, "INSERT INTO audit_outbox(entry, created_at) VALUES(?1, ?2)");
  s.bind(1, json_dump(audit_record_to_json(record).get())).bind(2, clock_.now_ms());
  if (s.step() != SQLITE_DONE)
    return Error{"audit_unavailable", std::string("the audit outbox could not be written: ") + sqlite3_errmsg(db_)};
  return true;
}

Result<std::vector<std::pair<int64_t, std::string>>> AuditOutbox::oldest(int n) {
  Statement s(db_, "SELECT seq, entry FROM audit_outbox ORDER BY seq LIMIT ?");
  s.bind(1, int64_t{n});
  std::vector<std::pair<int64_t, std::string>> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.emplace_back(s.integer(0), s.text(1));
  if (rc != SQLITE_DONE) return Error{"db_error", sqlite3_errmsg(db_)};
  return out;
}

bool AuditOutbox::remove_through(int64_t seq) {
  Statement s(db_, "DELETE FROM audit_outbox WHERE seq <= ?");
  s.bind(1, seq);
  return s.step() == SQLITE_DONE;
}

bool AuditOutbox::set_aside(int64_t seq, const std::string& reason) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
  Statement copy(db_,
                 "INSERT INTO audit_refused(seq, entry, created_at, refused_at, reason) "
                 "SELECT seq, entry, created_at, ?2, ?3 FROM audit_outbox WHERE seq = ?1");
  copy.bind(1, seq).bind(2, clock_.now_ms()).bind(3, reason.substr(0, 500));
  Statement remove(db_, "DELETE FROM audit_outbox WHERE seq = ?");
  remove.bind(1, seq);
  bool ok = copy.step() == SQLITE_DONE && remove.step() == SQLITE_DONE &&
            sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return ok;
}

int64_t AuditOutbox::refused() {
  Statement s(db_, "SELECT count(*) FROM audit_refused");
  return s.step() == SQLITE_ROW ? s.integer(0) : 0;
}

int64_t AuditOutbox::size() {
  Statement s(db_, "SELECT count(*) FROM audit_outbox");
  return s.step() == SQLITE_ROW ? s.integer(0) : 0;
}

int64_t AuditOutbox::oldest_stored_at() {
  Statement s(db_, "SELECT created_at FROM audit_outbox ORDER BY seq LIMIT 1");
  return s.step() == SQLITE_ROW ? s.integer(0) : 0;
}

Result<bool> deliver_audit_batch(const HttpTarget& signald, const std::string& records_json) {
  auto reply = http_request(signald, "POST", "/internal/audit", "{\"records\":" + records_json + "}", 5000);
  if (!reply) return reply.error();
  // 400: a record it will never take; 413: the batch is over its body limit.
  if (reply->status == 400 || reply->status == 413)
    return Error{"audit_record_refused", "signald refused: " + reply->body};
  if (reply->status != 200)
    return Error{"audit_refused", "signald answered " + std::to_string(reply->status) + ": " + reply->body};
  return true;
}

Result<int64_t> flush_audit_outbox(AuditOutbox& outbox, const HttpTarget& signald) {
  int64_t sent = 0;
  for (;;) {
    auto batch = outbox.oldest(static_cast<int>(kMaxAuditRecordsPerPost));
    if (!batch) return batch.error();
    if (batch->empty()) return sent;
    std::string json = "[";
    for (const auto& [seq, entry] : batch.value()) json += (json.size() > 1 ? "," : "") + entry;
    json += "]";
    auto delivered = deliver_audit_batch(signald, json);
    if (delivered) {
      if (!outbox.remove_through(batch->back().first))
        return Error{"db_error", "the audit outbox could not be updated"};
      sent += static_cast<int64_t>(batch->size());
      continue;
    }
    if (delivered.error().code != "audit_record_refused") return delivered.error();
    // One record or more that signald will never take: find them one by one.
    for (const auto& [seq, entry] : batch.value()) {
      auto one = deliver_audit_batch(signald, "[" + entry + "]");
      if (!one && one.error().code != "audit_record_refused") return one.error();
      if (one) {
        if (!outbox.remove_through(seq)) return Error{"db_error", "the audit outbox could not be updated"};
        ++sent;
        continue;
      }
      if (!outbox.set_aside(seq, one.error().message))
        return Error{"db_error", "the audit outbox could not set a refused record aside"};
      LOG_ERROR("vytal-admin: audit record %lld set aside in admin.db (audit_refused): %s", static_cast<long long>(seq),
                one.error().message.c_str());
    }
  }
}

AuditShipper::AuditShipper(SqlitePtr db, const Clock& clock, HttpTarget signald)
    : db_(std::move(db)), clock_(clock), signald_(std::move(signald)), thread_([this] { run(); }) {}

AuditShipper::~AuditShipper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AuditShipper::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void AuditShipper::run() {
  AuditOutbox outbox(db_.get(), clock_);
  int64_t backoff_ms = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // Every 2 s anyway (vytalctl adds records too), longer while signald is down.
      cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(2000, backoff_ms)),
                   [this] { return stop_ || woken_; });
      if (stop_) return;
      woken_ = false;
    }
    auto sent = flush_audit_outbox(outbox, signald_);
    int64_t left = outbox.size();
    std::lock_guard lock(mu_);
    waiting_ = left;
    if (sent) {
      last_error_.clear();
      backoff_ms = 0;
    } else {
      if (last_error_ != sent.error().message)
        LOG_WARN("vytal-admin: audit records wait in admin.db: %s", sent.error().message.c_str());
      last_error_ = sent.error().message;
      backoff_ms = std::min<int64_t>(backoff_ms ? backoff_ms * 2 : 2000, 30000);
    }
  }
}

}  // namespace vytal
