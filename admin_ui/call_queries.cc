#include "admin_ui/call_queries.h"

#include <vector>

#include "common/crypto.h"
#include "common/json.h"
#include "common/sqlite.h"
#include "common/time_format.h"

namespace vytal {
namespace {

constexpr const char* kCallColumns =
    "id, patient_id, provider_id, appointment_id, type, status, scheduled_at, started_at, ended_at, duration_ms, "
    "end_reason, created_by, created_at";

json_t* opt_text(const Statement& s, int col) { return s.is_null(col) ? json_null() : json_str(s.text(col)); }
json_t* opt_int(const Statement& s, int col) { return s.is_null(col) ? json_null() : json_integer(s.integer(col)); }

json_t* call_row_json(const Statement& s) {
  json_t* o = json_object();
  json_put(o, "id", json_str(s.text(0)));
  json_put(o, "patientId", json_str(s.text(1)));
  json_put(o, "providerId", json_str(s.text(2)));
  json_put(o, "appointmentId", opt_text(s, 3));
  json_put(o, "type", json_str(s.text(4)));
  json_put(o, "status", json_str(s.text(5)));
  json_put(o, "scheduledAt", opt_int(s, 6));
  json_put(o, "startedAt", opt_int(s, 7));
  json_put(o, "endedAt", opt_int(s, 8));
  json_put(o, "durationMs", opt_int(s, 9));
  json_put(o, "endReason", opt_text(s, 10));
  json_put(o, "createdBy", json_str(s.text(11)));
  json_put(o, "createdAt", json_integer(s.integer(12)));
  return o;
}

// The FROM and WHERE clauses both the page and the export use, newest
// first through an index that gives the order: (status, created_at, id) for
// a status alone, (patient or provider, created_at) with one of them (there
// `+status` keeps SQLite off the status index), (created_at, id) otherwise.
std::string call_where(const CallSearch& f, bool paged) {
  std::string sql = " FROM calls WHERE 1";
  if (f.call_id) sql += " AND id = :id";
  if (f.patient_id) sql += " AND patient_id = :patient";
  if (f.provider_id) sql += " AND provider_id = :provider";
  if (f.status) sql += f.patient_id || f.provider_id || f.call_id ? " AND +status = :status" : " AND status = :status";
  if (f.from) sql += " AND created_at >= :from";
  if (f.to) sql += " AND created_at < :to";
  if (paged && f.before) sql += " AND (created_at < :bts OR (created_at = :bts AND id < :bid))";
  sql += " ORDER BY created_at DESC, id DESC";
  return sql;
}

void bind_call_search(Statement& q, const CallSearch& f, bool paged) {
  if (f.call_id) q.bind(":id", *f.call_id);
  if (f.patient_id) q.bind(":patient", *f.patient_id);
  if (f.provider_id) q.bind(":provider", *f.provider_id);
  if (f.status) q.bind(":status", *f.status);
  if (f.from) q.bind(":from", *f.from);
  if (f.to) q.bind(":to", *f.to);
  if (paged && f.before) q.bind(":bts", f.before->at).bind(":bid", f.before->id);
}

std::string audit_where(const AuditSearch& f, bool paged) {
  std::string sql = " FROM audit_log WHERE 1";
  if (f.actor) sql += " AND actor_id = :actor";
  if (f.action)
    sql += f.action->back() == '.' ? " AND substr(action, 1, length(:action)) = :action" : " AND action = :action";
  if (f.call_id) sql += " AND call_id = :call";
  if (f.from) sql += " AND occurred_at >= :from";
  if (f.to) sql += " AND occurred_at < :to";
  if (paged && f.before) sql += " AND (occurred_at < :bts OR (occurred_at = :bts AND id < :bid))";
  sql += " ORDER BY occurred_at DESC, id DESC";
  return sql;
}

void bind_audit_search(Statement& q, const AuditSearch& f, bool paged) {
  if (f.actor) q.bind(":actor", *f.actor);
  if (f.action) q.bind(":action", *f.action);
  if (f.call_id) q.bind(":call", *f.call_id);
  if (f.from) q.bind(":from", *f.from);
  if (f.to) q.bind(":to", *f.to);
  if (paged && f.before) q.bind(":bts", f.before->at).bind(":bid", f.before->id);
}

constexpr const char* kAuditColumns =
    "id, occurred_at, actor_id, actor_role, action, outcome, call_id, remote_addr, detail";

Error db_error(sqlite3* db) {
  return Error{"db_error", std::string("the call log cannot be read: ") + sqlite3_errmsg(db)};
}

std::string time_or_empty(const Statement& s, int col) {
  return s.is_null(col) ? "" : format_timestamp(s.integer(col));
}
std::string int_or_empty(const Statement& s, int col) { return s.is_null(col) ? "" : std::to_string(s.integer(col)); }

// Steps a prepared statement and writes CSV lines, a batch per call of next().
class CsvStream final : public ResponseStream {
 public:
  using RowWriter = void (*)(const Statement& s, std::string& out);
  CsvStream(SqlitePtr db, Statement query, std::string header, RowWriter row)
      : db_(std::move(db)), query_(std::move(query)), header_(std::move(header)), row_(row) {}
  bool next(std::string& out, size_t max) override {
    if (!header_.empty()) {
      out = std::move(header_);
      header_.clear();
      return true;
    }
    if (done_) return false;
    while (out.size() < max) {
      int rc = query_.step();
      if (rc != SQLITE_ROW) {
        done_ = true;
        if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_.get()));  // ends the response with an error
        break;
      }
      row_(query_, out);
    }
    return !out.empty();
  }

 private:
  SqlitePtr db_;
  Statement query_;  // declared after db_: finalized first
  std::string header_;
  RowWriter row_;
  bool done_ = false;
};

void call_csv_row(const Statement& s, std::string& out) {
  out += s.text(0) + "," + csv_field(s.text(1)) + "," + csv_field(s.text(2)) + "," +
         (s.is_null(3) ? "" : csv_field(s.text(3))) + "," + s.text(4) + "," + s.text(5) + "," + time_or_empty(s, 12) +
         "," + time_or_empty(s, 6) + "," + time_or_empty(s, 7) + "," + time_or_empty(s, 8) + "," + int_or_empty(s, 9) +
         "," + (s.is_null(9) ? "" : std::to_string((s.integer(9) + 500) / 1000)) + "," +
         (s.is_null(10) ? "" : csv_field(s.text(10))) + "," + csv_field(s.text(11)) + "\r\n";
}

void audit_csv_row(const Statement& s, std::string& out) {
  out += s.text(0) + "," + format_timestamp(s.integer(1)) + "," + csv_field(s.text(2)) + "," + csv_field(s.text(3)) +
         "," + csv_field(s.text(4)) + "," + csv_field(s.text(5)) + "," + (s.is_null(6) ? "" : s.text(6)) + "," +
         (s.is_null(7) ? "" : csv_field(s.text(7))) + "," + (s.is_null(8) ? "" : csv_field(s.text(8))) + "\r\n";
}

Result<SqlitePtr> open_reader(const std::string& path) {
  SqliteOpenOptions o;
  o.read_only = true;
  return sqlite_open(path, o);
}

}  // namespace

std::string encode_cursor(const Cursor& c) { return base64url_encode(std::to_string(c.at) + ":" + c.id); }

std::optional<Cursor> decode_cursor(std::string_view text) {
  auto raw = base64url_decode(text);
  if (!raw) return std::nullopt;
  size_t colon = raw->find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  char* end = nullptr;
  long long at = std::strtoll(raw->c_str(), &end, 10);
  if (end != raw->c_str() + colon) return std::nullopt;
  std::string id = raw->substr(colon + 1);
  if (!is_uuid(id)) return std::nullopt;
  return Cursor{at, id};
}

std::string csv_field(std::string_view text) {
  std::string v(text);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r'))
    v.insert(0, 1, '\'');
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<JsonPtr> search_calls(sqlite3* db, const CallSearch& f) {
  auto q = Statement::prepare(db, std::string("SELECT ") + kCallColumns + call_where(f, true) + " LIMIT :limit");
  if (!q) return q.error();
  bind_call_search(q.value(), f, true);
  q->bind(":limit", int64_t{f.limit});
  JsonPtr out(json_object());
  json_t* calls = json_array();
  json_put(out.get(), "calls", calls);
  int rc, n = 0;
  Cursor last;
  while ((rc = q->step()) == SQLITE_ROW) {
    json_array_append_new(calls, call_row_json(q.value()));
    last = Cursor{q->integer(12), q->text(0)};
    ++n;
  }
  if (rc != SQLITE_DONE) return db_error(db);
  json_put(out.get(), "nextCursor", n == f.limit ? json_str(encode_cursor(last)) : nullptr);
  return out;
}

Result<std::optional<JsonPtr>> call_detail(sqlite3* db, const std::string& id) {
  Statement call(db, (std::string("SELECT ") + kCallColumns + " FROM calls WHERE id = ?").c_str());
  call.bind(1, id);
  int rc = call.step();
  if (rc == SQLITE_DONE) return std::optional<JsonPtr>();
  if (rc != SQLITE_ROW) return db_error(db);
  JsonPtr out(json_object());
  json_put(out.get(), "call", call_row_json(call));

  auto rows = [&](const char* key, const char* sql, auto&& fill) -> bool {
    Statement s(db, sql);
    s.bind(1, id);
    json_t* arr = json_array();
    json_put(out.get(), key, arr);
    int r;
    while ((r = s.step()) == SQLITE_ROW) {
      json_t* o = json_object();
      fill(s, o);
      json_array_append_new(arr, o);
    }
    return r == SQLITE_DONE;
  };
  bool ok =
      rows("participants",
           "SELECT user_id, role, status, joined_at, left_at, duration_ms, created_at FROM call_participants WHERE "
           "call_id = ? ORDER BY created_at, rowid",
           [](const Statement& s, json_t* o) {
             json_put(o, "userId", json_str(s.text(0)));
             json_put(o, "role", json_str(s.text(1)));
             json_put(o, "status", json_str(s.text(2)));
             json_put(o, "joinedAt", opt_int(s, 3));
             json_put(o, "leftAt", opt_int(s, 4));
             json_put(o, "durationMs", json_integer(s.integer(5)));
             json_put(o, "invitedAt", json_integer(s.integer(6)));
           }) &&
      rows("events",
           "SELECT type, actor_id, detail, occurred_at FROM call_events WHERE call_id = ? ORDER BY occurred_at, "
           "change_seq",
           [](const Statement& s, json_t* o) {
             json_put(o, "type", json_str(s.text(0)));
             json_put(o, "actorId", opt_text(s, 1));
             json_put(o, "detail", opt_text(s, 2));
             json_put(o, "at", json_integer(s.integer(3)));
           }) &&
      rows("quality",
           "SELECT user_id, rtt_ms, jitter_ms, packet_loss_permille, bitrate_kbps, sampled_at FROM "
           "call_quality_samples WHERE call_id = ? ORDER BY sampled_at LIMIT 2000",
           [](const Statement& s, json_t* o) {
             json_put(o, "userId", json_str(s.text(0)));
             json_put(o, "rttMs", opt_int(s, 1));
             json_put(o, "jitterMs", opt_int(s, 2));
             json_put(o, "lossPermille", opt_int(s, 3));
             json_put(o, "bitrateKbps", opt_int(s, 4));
             json_put(o, "at", json_integer(s.integer(5)));
           }) &&
      rows("turn",
           "SELECT user_id, transport, relay_address, state, started_at, ended_at, bytes_sent, bytes_received FROM "
           "turn_usage WHERE call_id = ? ORDER BY started_at",
           [](const Statement& s, json_t* o) {
             json_put(o, "userId", json_str(s.text(0)));
             json_put(o, "transport", opt_text(s, 1));
             json_put(o, "relayAddress", opt_text(s, 2));
             json_put(o, "state", json_str(s.text(3)));
             json_put(o, "startedAt", json_integer(s.integer(4)));
             json_put(o, "endedAt", opt_int(s, 5));
             json_put(o, "bytesSent", json_integer(s.integer(6)));
             json_put(o, "bytesReceived", json_integer(s.integer(7)));
           });
  if (!ok) return db_error(db);
  return std::optional<JsonPtr>(std::move(out));
}

Result<JsonPtr> search_audit(sqlite3* db, const AuditSearch& f) {
  auto q = Statement::prepare(db, std::string("SELECT ") + kAuditColumns + audit_where(f, true) + " LIMIT :limit");
  if (!q) return q.error();
  bind_audit_search(q.value(), f, true);
  q->bind(":limit", int64_t{f.limit});
  JsonPtr out(json_object());
  json_t* entries = json_array();
  json_put(out.get(), "entries", entries);
  int rc, n = 0;
  Cursor last;
  while ((rc = q->step()) == SQLITE_ROW) {
    const Statement& s = q.value();
    json_t* o = json_object();
    json_put(o, "id", json_str(s.text(0)));
    json_put(o, "at", json_integer(s.integer(1)));
    json_put(o, "actor", json_str(s.text(2)));
    json_put(o, "role", json_str(s.text(3)));
    json_put(o, "action", json_str(s.text(4)));
    json_put(o, "outcome", json_str(s.text(5)));
    json_put(o, "callId", opt_text(s, 6));
    json_put(o, "remoteAddr", opt_text(s, 7));
    json_put(o, "detail", opt_text(s, 8));
    json_array_append_new(entries, o);
    last = Cursor{s.integer(1), s.text(0)};
    ++n;
  }
  if (rc != SQLITE_DONE) return db_error(db);
  json_put(out.get(), "nextCursor", n == f.limit ? json_str(encode_cursor(last)) : nullptr);
  return out;
}

Result<std::unique_ptr<ResponseStream>> calls_csv(const std::string& path, const CallSearch& f) {
  auto db = open_reader(path);
  if (!db) return db.error();
  auto q = Statement::prepare(db.value().get(), std::string("SELECT ") + kCallColumns + call_where(f, false));
  if (!q) return q.error();
  bind_call_search(q.value(), f, false);
  std::string header =
      "call_id,patient_id,provider_id,appointment_id,type,status,created_at_utc,scheduled_at_utc,started_at_utc,"
      "ended_at_utc,duration_ms,duration_seconds,end_reason,created_by\r\n";
  return std::unique_ptr<ResponseStream>(
      new CsvStream(std::move(db.value()), std::move(q.value()), std::move(header), &call_csv_row));
}

Result<std::unique_ptr<ResponseStream>> audit_csv(const std::string& path, const AuditSearch& f) {
  auto db = open_reader(path);
  if (!db) return db.error();
  auto q = Statement::prepare(db.value().get(), std::string("SELECT ") + kAuditColumns + audit_where(f, false));
  if (!q) return q.error();
  bind_audit_search(q.value(), f, false);
  std::string header = "id,occurred_at_utc,actor,role,action,outcome,call_id,remote_addr,detail\r\n";
  return std::unique_ptr<ResponseStream>(
      new CsvStream(std::move(db.value()), std::move(q.value()), std::move(header), &audit_csv_row));
}

}  // namespace vytal
