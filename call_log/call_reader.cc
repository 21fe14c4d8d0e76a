#include "call_log/call_reader.h"

namespace vytal {

const char* const kCallColumns =
    "id, patient_id, provider_id, appointment_id, type, status, scheduled_at, started_at, ended_at, duration_ms, "
    "end_reason, created_by, created_at, updated_at, version";

CallRecord read_call_row(const Statement& s) {
  CallRecord c;
  c.id = s.text(0);
  c.patient_id = s.text(1);
  c.provider_id = s.text(2);
  c.appointment_id = s.opt_text(3);
  c.type = s.text(4);
  c.status = parse_call_status(s.text(5)).value_or(CallStatus::failed);
  c.scheduled_at = s.opt_integer(6);
  c.started_at = s.opt_integer(7);
  c.ended_at = s.opt_integer(8);
  c.duration_ms = s.opt_integer(9);
  c.end_reason = s.opt_text(10);
  c.created_by = s.text(11);
  c.created_at = s.integer(12);
  c.updated_at = s.integer(13);
  c.version = s.integer(14);
  return c;
}

CallReader::CallReader(sqlite3* db)
    : db_(db),
      select_call_(db, (std::string("SELECT ") + kCallColumns + " FROM calls WHERE id = ?").c_str()),
      select_participants_(db,
                           "SELECT id, call_id, user_id, role, status, joined_at, left_at, duration_ms, created_at, "
                           "updated_at, version FROM call_participants WHERE call_id = ? ORDER BY created_at, rowid") {}

Result<std::optional<CallRecord>> CallReader::get(std::string_view id) {
  select_call_.bind(1, id);
  int rc = select_call_.step();
  std::optional<CallRecord> call;
  if (rc == SQLITE_ROW) call = read_call_row(select_call_);
  select_call_.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error{"db_error", sqlite3_errmsg(db_)};
  if (!call) return std::optional<CallRecord>{};

  select_participants_.bind(1, id);
  while ((rc = select_participants_.step()) == SQLITE_ROW) {
    const Statement& s = select_participants_;
    ParticipantRecord p;
    p.id = s.text(0);
    p.call_id = s.text(1);
    p.user_id = s.text(2);
    p.role = s.text(3);
    p.status = s.text(4);
    p.joined_at = s.opt_integer(5);
    p.left_at = s.opt_integer(6);
    p.duration_ms = s.integer(7);
    p.created_at = s.integer(8);
    p.updated_at = s.integer(9);
    p.version = s.integer(10);
    call->participants.push_back(std::move(p));
  }
  select_participants_.reset();
  if (rc != SQLITE_DONE) return Error{"db_error", sqlite3_errmsg(db_)};
  return call;
}

Result<std::vector<CallRecord>> CallReader::list(const CallFilter& f) {
  // Built per query: the filters vary and listing is not on the hot path.
  std::string sql = std::string("SELECT ") + kCallColumns + " FROM calls c WHERE 1";
  if (f.patient_id) sql += " AND patient_id = :patient";
  if (f.provider_id) sql += " AND provider_id = :provider";
  if (f.status) sql += " AND status = :status";
  if (f.created_from) sql += " AND created_at >= :from";
  if (f.created_to) sql += " AND created_at < :to";
  // Through the indexes (patient/provider + created, participants by user),
  // not "A OR EXISTS(...)", which SQLite can only answer by scanning calls.
  // A call someone was removed from is no longer theirs to list (as
  // can_view_call says), unless it is their own as its patient or provider.
  if (f.visible_to_patient)
    sql +=
        " AND c.id IN (SELECT id FROM calls WHERE patient_id = :viewer UNION ALL SELECT call_id FROM "
        "call_participants WHERE user_id = :viewer AND status != 'removed')";
  if (f.visible_to_provider)
    sql +=
        " AND c.id IN (SELECT id FROM calls WHERE provider_id = :viewer UNION ALL SELECT call_id FROM "
        "call_participants WHERE user_id = :viewer AND status != 'removed')";
  if (f.before) sql += " AND (created_at < :bts OR (created_at = :bts AND id < :bid))";
  sql += " ORDER BY created_at DESC, id DESC LIMIT :limit";

  auto prepared = Statement::prepare(db_, sql);
  if (!prepared) return prepared.error();
  Statement& q = prepared.value();
  if (f.patient_id) q.bind(":patient", *f.patient_id);
  if (f.provider_id) q.bind(":provider", *f.provider_id);
  if (f.status) q.bind(":status", std::string_view(call_status_name(*f.status)));
  if (f.created_from) q.bind(":from", *f.created_from);
  if (f.created_to) q.bind(":to", *f.created_to);
  if (f.visible_to_patient) q.bind(":viewer", *f.visible_to_patient);
  if (f.visible_to_provider) q.bind(":viewer", *f.visible_to_provider);
  if (f.before) q.bind(":bts", f.before->first).bind(":bid", f.before->second);
  q.bind(":limit", int64_t{f.limit});

  std::vector<CallRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out.push_back(read_call_row(q));
  if (rc != SQLITE_DONE) return Error{"db_error", sqlite3_errmsg(db_)};
  return out;
}

Result<std::map<CallStatus, int64_t>> CallReader::count_by_status() {
  Statement s(db_, "SELECT status, count(*) FROM calls GROUP BY status");
  std::map<CallStatus, int64_t> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    if (auto st = parse_call_status(s.text(0))) out[*st] = s.integer(1);
  if (rc != SQLITE_DONE) return Error{"db_error", sqlite3_errmsg(db_)};
  return out;
}

}  // namespace vytal
