// Admin sessions in admin.db. The browser holds a 256-bit random id (in the
// __Host-vytal_admin cookie); the table holds only its SHA-256, the account,
// the CSRF token bound to the session, and its times. A session ends after
// `idle_s` without a request, `absolute_s` after login, on logout, and when
// its account's password changes or the account is disabled (AccountStore
// deletes the rows; find() also checks the account on every request).
// One thread at a time per SessionStore; times come from the injected clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "admin_ui/accounts.h"
#include "common/clock.h"
#include "common/result.h"
#include "common/sqlite.h"

namespace vytal {

struct SessionOptions {
  int64_t idle_s = 900;        // HIPAA automatic logoff: 15 minutes
  int64_t absolute_s = 28800;  // 8 hours
};

struct NewSession {
  std::string id;    // for the cookie only; never stored
  std::string csrf;  // sent back in X-CSRF-Token on every POST
};

struct Session {
  std::string id_hash;
  std::string account;
  AdminRole role = AdminRole::viewer;
  std::string csrf;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
};

class SessionStore {
 public:
  SessionStore(sqlite3* db, const Clock& clock, SessionOptions options);

  Result<NewSession> create(std::string_view account, std::string_view remote_addr);
  // The live session with this cookie id, its last use moved to now unless
  // !touch (the page's own background checks are not use); nullopt when
  // there is none, it timed out (then deleted) or its account is disabled
  // or gone.
  Result<std::optional<Session>> find(std::string_view id, bool touch = true);
  bool end(const Session& session);
  bool end_all(std::string_view account);
  // Whether `token` is this session's CSRF token (constant time).
  static bool csrf_ok(const Session& session, std::string_view token);

  const SessionOptions& options() const { return options_; }

 private:
  sqlite3* db_;
  const Clock& clock_;
  SessionOptions options_;
};

// The hex SHA-256 of a cookie id: the sessions table's key.
std::string session_id_hash(std::string_view id);

}  // namespace vytal
