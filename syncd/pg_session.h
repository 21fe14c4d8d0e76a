// A libpq connection for vytal-syncd: RAII handles, statements returning
// Result, and errors classified so the sync loop knows whether to retry,
// back off, or park a row. Blocking; used from syncd's sync thread only.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "common/handles.h"
#include "common/result.h"

namespace vytal {

struct PgOptions {
  std::string host, port, dbname, user, password, sslmode, sslrootcert;
  int connect_timeout_s = 10;
};

// Error codes: pg_connect (unreachable, refused, auth), pg_transient (the
// connection broke, serialization failure, shutdown: retry later), pg_data
// (PostgreSQL rejected the content: the row is at fault), pg_error (anything
// else: the schema or a bug; retried with backoff, reported).
class PgSession {
 public:
  static Result<PgSession> connect(const PgOptions& options);

  // Runs SQL without parameters (several statements allowed).
  Result<bool> exec(const std::string& sql);
  // Runs one statement with text parameters (nullptr = NULL).
  Result<PgResultPtr> exec_params(const std::string& sql, const std::vector<const char*>& params);
  // Sends SQL (several statements allowed) without waiting: the caller can
  // work while PostgreSQL executes it, then collects the outcome with finish().
  Result<bool> send(const std::string& sql);
  Result<bool> finish();
  // COPY ... FROM STDIN: sends `data` (text format) and finishes.
  Result<bool> copy_in(const std::string& copy_sql, const std::string& data);

  bool ok() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }
  PGconn* get() const { return conn_.get(); }

 private:
  Error error_from(const PGresult* r) const;
  PgConnPtr conn_;
};

}  // namespace vytal
