// SQLite helpers: opening with the appliance's pragmas, prepared statements
// and numbered schema migrations. A connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/handles.h"
#include "common/result.h"

namespace vytal {

struct SqliteOpenOptions {
  bool read_only = false;
  // synchronous=FULL: a commit is on disk when sqlite3_step returns (WAL mode).
  bool synchronous_full = true;
  int busy_timeout_ms = 5000;
};

Result<SqlitePtr> sqlite_open(const std::string& path, const SqliteOpenOptions& options);

// Runs one or more statements without results; fills *error on failure.
bool sqlite_exec(sqlite3* db, const char* sql, std::string* error);

class Statement {
 public:
  Statement() = default;
  // A statement that fails to prepare is a programming error: aborts with the SQL.
  Statement(sqlite3* db, const char* sql);
  // For SQL built at run time: a failure is an error value.
  static Result<Statement> prepare(sqlite3* db, const std::string& sql);

  // Binds a named parameter (":name") when the statement has it.
  template <typename T>
  Statement& bind(const char* name, const T& value) {
    if (int i = sqlite3_bind_parameter_index(stmt_.get(), name)) bind(i, value);
    return *this;
  }

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::nullopt_t);
  Statement& bind(int index, const std::optional<std::string>& text);
  Statement& bind(int index, const std::optional<int64_t>& value);

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Resets and clears bindings so the statement can be reused.
  void reset();

  bool is_null(int col) const;
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  int64_t integer(int col) const;
  std::optional<int64_t> opt_integer(int col) const;

  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  StmtPtr stmt_;
};

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Applies, in order and each in its own transaction, the migrations newer than
// the schema's recorded version (table schema_migrations). Returns how many ran.
Result<int> apply_migrations(sqlite3* db, std::span<const Migration> migrations, int64_t now_ms);
int schema_version(sqlite3* db);

}  // namespace vytal
