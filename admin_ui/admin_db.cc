#include "admin_ui/admin_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "admin_ui/connectivity_store.h"

namespace vytal {
namespace {

constexpr const char* kAccounts = R"sql(
CREATE TABLE accounts (
  name                TEXT PRIMARY KEY,
  role                TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  password_hash       TEXT NOT NULL,
  totp_secret         TEXT,
  totp_last_step      INTEGER,
  disabled            INTEGER NOT NULL DEFAULT 0,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL,
  last_login_at       INTEGER
);
-- One-time recovery codes for TOTP, as SHA-256 of the code (80 random bits each).
CREATE TABLE recovery_codes (
  account   TEXT NOT NULL REFERENCES accounts(name),
  code_hash TEXT NOT NULL,
  used_at   INTEGER,
  PRIMARY KEY (account, code_hash)
);
-- Sessions by SHA-256 of the 256-bit id the cookie carries: a copy of this
-- file does not hand out live sessions.
CREATE TABLE sessions (
  id_hash      TEXT PRIMARY KEY,
  account      TEXT NOT NULL REFERENCES accounts(name),
  csrf_token   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  remote_addr  TEXT NOT NULL
);
CREATE INDEX idx_sessions_account ON sessions(account);
-- Audit rows not yet in the call log (signald down): delivered in seq order.
CREATE TABLE audit_outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  entry      TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
)sql";

// Records signald refused (HTTP 400: it will never take them, say from an
// older or newer vytal-admin), set aside so the ones after them still go.
// Kept, never deleted by the appliance: the overview counts them.
constexpr const char* kAuditRefused = R"sql(
CREATE TABLE audit_refused (
  seq        INTEGER PRIMARY KEY,
  entry      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  refused_at INTEGER NOT NULL,
  reason     TEXT NOT NULL
);
)sql";

constexpr Migration kMigrations[] = {
    {1, "accounts, sessions, audit outbox", kAccounts},
    {2, "connectivity test runs and links", kConnectivityTestSchema},
    {3, "audit records signald refused", kAuditRefused},
};

}  // namespace

std::span<const Migration> admin_db_migrations() { return kMigrations; }

std::string read_admin_db_path(const Config& config) {
  const std::string& dir = config.str("VYTAL_DATA_DIR");
  if (dir.empty()) throw ConfigError("VYTAL_DATA_DIR: must name the directory of admin.db");
  return dir + "/admin.db";
}

Result<SqlitePtr> open_admin_db(const std::string& path, int64_t now_ms) {
  // Create it owner-only before SQLite does (SQLite would use the umask).
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    // Made by root (sudo vytalctl admin add): give it to the data directory's
    // owner, the service user, or vytal-admin could not open it. SQLite gives
    // its -wal and -shm files the database file's owner by itself.
    struct stat dir {};
    std::string parent = path.substr(0, path.find_last_of('/') + 1);
    if (geteuid() == 0 && ::stat(parent.empty() ? "." : parent.c_str(), &dir) == 0 && dir.st_uid != 0 &&
        fchown(fd, dir.st_uid, dir.st_gid) != 0) {
      ::close(fd);
      return Error{"admin_db", path + ": cannot give it to the service user: " + std::strerror(errno)};
    }
    ::close(fd);
  } else if (errno != EEXIST) {
    return Error{"admin_db", path + ": " + std::strerror(errno)};
  }
  auto db = sqlite_open(path, SqliteOpenOptions{});
  if (!db) return Error{"admin_db", path + ": " + db.error().message};
  auto applied = apply_migrations(db.value().get(), kMigrations, now_ms);
  if (!applied) return Error{"admin_db", path + ": " + applied.error().message};
  return std::move(db.value());
}

}  // namespace vytal
