#include "common/sqlite.h"

#include <cstdio>
#include <cstdlib>

#include "common/wal_append_vfs.h"

namespace vytal {

Result<SqlitePtr> sqlite_open(const std::string& path, const SqliteOpenOptions& options) {
  // Before SQLite starts: no allocation statistics. We never read them, and
  // keeping them takes a process-wide mutex on every allocation (Debian's
  // build has no lookaside, so every row written allocates several times).
  static const bool configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  (void)configured;
  sqlite3* raw = nullptr;
  int flags = options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, wal_append_vfs());
  SqlitePtr db(raw);
  if (rc != SQLITE_OK) return Error{"sqlite_open", path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
  sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
  sqlite3_extended_result_codes(db.get(), 1);
  std::string error;
  std::string pragmas = "PRAGMA foreign_keys=ON;";
  if (!options.read_only) {
    pragmas += "PRAGMA journal_mode=WAL;";
    pragmas += options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
  } else {
    pragmas += "PRAGMA query_only=ON;";
  }
  // Turning a new file's journal to WAL takes its exclusive lock from a shared
  // one. While another connection holds a shared lock too, SQLite answers
  // SQLITE_BUSY at once rather than call the busy handler (both waiting could
  // deadlock). Programs opening a new database together meet that (vytal-admin
  // starting while `vytalctl admin add` makes admin.db): try again until the
  // busy timeout has passed.
  for (int waited_ms = 0; !sqlite_exec(db.get(), pragmas.c_str(), &error); waited_ms += 5) {
    if ((sqlite3_errcode(db.get()) & 0xff) != SQLITE_BUSY || waited_ms >= options.busy_timeout_ms)
      return Error{"sqlite_open", path + ": " + error};
    sqlite3_sleep(5);
  }
  return db;
}

bool sqlite_exec(sqlite3* db, const char* sql, std::string* error) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
  if (error) *error = msg ? msg : sqlite3_errmsg(db);
  sqlite3_free(msg);
  return false;
}

Statement::Statement(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "error: cannot prepare SQL (%s): %s\n", sqlite3_errmsg(db), sql);
    std::abort();
  }
  stmt_.reset(raw);
}

Result<Statement> Statement::prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) return Error{"db_error", sqlite3_errmsg(db)};
  Statement s;
  s.stmt_.reset(raw);
  return s;
}

Statement& Statement::bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind(int i, int64_t value) {
  sqlite3_bind_int64(stmt_.get(), i, value);
  return *this;
}
Statement& Statement::bind(int i, std::nullopt_t) {
  sqlite3_bind_null(stmt_.get(), i);
  return *this;
}
Statement& Statement::bind(int i, const std::optional<std::string>& text) {
  return text ? bind(i, std::string_view(*text)) : bind(i, std::nullopt);
}
Statement& Statement::bind(int i, const std::optional<int64_t>& value) {
  return value ? bind(i, *value) : bind(i, std::nullopt);
}

int Statement::step() { return sqlite3_step(stmt_.get()); }

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }

std::string Statement::text(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  return p ? std::string(p, sqlite3_column_bytes(stmt_.get(), col)) : std::string();
}

std::optional<std::string> Statement::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

int64_t Statement::integer(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

std::optional<int64_t> Statement::opt_integer(int col) const {
  if (is_null(col)) return std::nullopt;
  return integer(col);
}

int schema_version(sqlite3* db) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_migrations", -1, &raw, nullptr) != SQLITE_OK) return 0;
  StmtPtr stmt(raw);
  return sqlite3_step(raw) == SQLITE_ROW ? sqlite3_column_int(raw, 0) : 0;
}

Result<int> apply_migrations(sqlite3* db, std::span<const Migration> migrations, int64_t now_ms) {
  std::string error;
  if (!sqlite_exec(db,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
                   &error))
    return Error{"migration", "schema_migrations: " + error};
  int current = schema_version(db);
  int applied = 0;
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    if (!sqlite_exec(db, "BEGIN IMMEDIATE", &error)) return Error{"migration", error};
    // Another process (signald and syncd share the call log) may have applied
    // it while this one waited for the write lock.
    if (schema_version(db) >= m.version) {
      sqlite_exec(db, "ROLLBACK", nullptr);
      continue;
    }
    bool ok = sqlite_exec(db, m.sql, &error);
    if (ok) {
      Statement record(db, "INSERT INTO schema_migrations(version, name, applied_at) VALUES(?,?,?)");
      record.bind(1, int64_t{m.version}).bind(2, std::string_view(m.name)).bind(3, now_ms);
      ok = record.step() == SQLITE_DONE;
      if (!ok) error = sqlite3_errmsg(db);
    }
    if (!ok) {
      sqlite_exec(db, "ROLLBACK", nullptr);
      return Error{"migration", "migration " + std::to_string(m.version) + " (" + m.name + "): " + error};
    }
    if (!sqlite_exec(db, "COMMIT", &error)) return Error{"migration", error};
    ++applied;
  }
  return applied;
}

}  // namespace vytal
