#include "syncd/pg_session.h"

#include <cstring>
#include <optional>

namespace vytal {
namespace {

// SQLSTATE classes (PostgreSQL appendix A).
bool data_error(const char* state) {
  return state && (std::strncmp(state, "22", 2) == 0 || std::strncmp(state, "23", 2) == 0);
}
bool transient_error(const char* state) {
  if (!state) return true;  // no SQLSTATE: the connection itself failed
  return std::strncmp(state, "08", 2) == 0 || std::strncmp(state, "40", 2) == 0 || std::strncmp(state, "57", 2) == 0 ||
         std::strncmp(state, "53", 2) == 0;
}

}  // namespace

Result<PgSession> PgSession::connect(const PgOptions& o) {
  std::string timeout = std::to_string(o.connect_timeout_s);
  const char* keys[] = {"host", "port", "dbname", "user", "password", "sslmode", "sslrootcert", "connect_timeout",
                        "application_name",
                        // A central database that vanished (a dead link, no RST) is noticed in
                        // about a minute instead of hanging a call until the kernel gives up.
                        "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", nullptr};
  const char* values[] = {o.host.c_str(),
                          o.port.c_str(),
                          o.dbname.c_str(),
                          o.user.c_str(),
                          o.password.empty() ? nullptr : o.password.c_str(),
                          o.sslmode.c_str(),
                          o.sslrootcert.empty() ? nullptr : o.sslrootcert.c_str(),
                          timeout.c_str(),
                          "vytal-syncd",
                          "1",
                          "30",
                          "10",
                          "3",
                          nullptr};
  PgSession s;
  s.conn_.reset(PQconnectdbParams(keys, values, 0));
  if (!s.conn_ || PQstatus(s.conn_.get()) != CONNECTION_OK) {
    std::string msg = s.conn_ ? PQerrorMessage(s.conn_.get()) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Error{"pg_connect", msg};
  }
  return s;
}

Error PgSession::error_from(const PGresult* r) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get());
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (state) msg = std::string(state) + ": " + msg;
  if (PQstatus(conn_.get()) != CONNECTION_OK || transient_error(state)) return Error{"pg_transient", msg};
  if (data_error(state)) return Error{"pg_data", msg};
  return Error{"pg_error", msg};
}

Result<bool> PgSession::exec(const std::string& sql) {
  PgResultPtr r(PQexec(conn_.get(), sql.c_str()));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error_from(r.get());
  return true;
}

Result<PgResultPtr> PgSession::exec_params(const std::string& sql, const std::vector<const char*>& params) {
  PgResultPtr r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(), nullptr,
                             nullptr, 0));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error_from(r.get());
  return r;
}

Result<bool> PgSession::send(const std::string& sql) {
  if (PQsendQuery(conn_.get(), sql.c_str()) != 1) return error_from(nullptr);
  return true;
}

Result<bool> PgSession::finish() {
  std::optional<Error> first;
  while (PgResultPtr r{PQgetResult(conn_.get())}) {
    ExecStatusType st = PQresultStatus(r.get());
    if (!first && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) first = error_from(r.get());
  }
  if (first) return *first;
  if (PQstatus(conn_.get()) != CONNECTION_OK) return error_from(nullptr);
  return true;
}

Result<bool> PgSession::copy_in(const std::string& copy_sql, const std::string& data) {
  PgResultPtr start(PQexec(conn_.get(), copy_sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN) return error_from(start.get());
  if (PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(conn_.get(), nullptr) != 1)
    return error_from(nullptr);
  PgResultPtr end(PQgetResult(conn_.get()));
  bool ok = end && PQresultStatus(end.get()) == PGRES_COMMAND_OK;
  Error err = ok ? Error{} : error_from(end.get());
  while (PgResultPtr more{PQgetResult(conn_.get())}) {
  }
  if (!ok) return err;
  return true;
}

}  // namespace vytal
