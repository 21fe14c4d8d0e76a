#include "admin_ui/sessions.h"

#include <algorithm>

#include "common/crypto.h"

namespace vytal {

std::string session_id_hash(std::string_view id) { return hex_encode(sha256(id)); }

SessionStore::SessionStore(sqlite3* db, const Clock& clock, SessionOptions options)
    : db_(db), clock_(clock), options_(options) {}

Result<NewSession> SessionStore::create(std::string_view account, std::string_view remote_addr) {
  NewSession n{base64url_encode(random_bytes(32)), base64url_encode(random_bytes(32))};
  int64_t now = clock_.now_ms();
  Statement s(db_,
              "INSERT INTO sessions(id_hash, account, csrf_token, created_at, last_seen_at, remote_addr) "
              "VALUES(?1, ?2, ?3, ?4, ?4, ?5)");
  s.bind(1, session_id_hash(n.id)).bind(2, account).bind(3, n.csrf).bind(4, now).bind(5, remote_addr);
  if (s.step() != SQLITE_DONE) return Error{"db_error", std::string("admin.db: ") + sqlite3_errmsg(db_)};
  // Sessions that timed out are removed now and then, so the table stays small.
  Statement purge(db_, "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2");
  purge.bind(1, now - options_.idle_s * 1000).bind(2, now - options_.absolute_s * 1000);
  purge.step();
  return n;
}

Result<std::optional<Session>> SessionStore::find(std::string_view id, bool touch) {
  if (id.empty() || id.size() > 64) return std::optional<Session>();
  std::string hash = session_id_hash(id);
  Statement s(db_,
              "SELECT s.account, a.role, s.csrf_token, s.created_at, s.last_seen_at, a.disabled FROM sessions s "
              "JOIN accounts a ON a.name = s.account WHERE s.id_hash = ?");
  s.bind(1, hash);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<Session>();
  if (rc != SQLITE_ROW) return Error{"db_error", std::string("admin.db: ") + sqlite3_errmsg(db_)};
  Session session{hash,      s.text(0),    parse_admin_role(s.text(1)).value_or(AdminRole::viewer),
                  s.text(2), s.integer(3), s.integer(4)};
  bool disabled = s.integer(5) != 0;
  s.reset();  // end the read before any write (see AccountStore::check_login)
  int64_t now = clock_.now_ms();
  if (disabled || now - session.last_seen_at >= options_.idle_s * 1000 ||
      now - session.created_at >= options_.absolute_s * 1000) {
    end(session);
    return std::optional<Session>();
  }
  // Moving last_seen_at is a write; at most every few seconds per session.
  if (touch && now - session.last_seen_at >= std::min<int64_t>(10000, options_.idle_s * 250)) {
    Statement touch(db_, "UPDATE sessions SET last_seen_at = ?1 WHERE id_hash = ?2");
    touch.bind(1, now).bind(2, hash);
    touch.step();
    session.last_seen_at = now;
  }
  return std::optional<Session>(std::move(session));
}

bool SessionStore::end(const Session& session) {
  Statement s(db_, "DELETE FROM sessions WHERE id_hash = ?");
  s.bind(1, session.id_hash);
  return s.step() == SQLITE_DONE;
}

bool SessionStore::end_all(std::string_view account) {
  Statement s(db_, "DELETE FROM sessions WHERE account = ?");
  s.bind(1, account);
  return s.step() == SQLITE_DONE;
}

bool SessionStore::csrf_ok(const Session& session, std::string_view token) {
  return !token.empty() && constant_time_equal(session.csrf, token);
}

}  // namespace vytal
