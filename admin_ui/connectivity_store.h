// The connectivity test's records in admin.db (never the call log: they are
// the admin page's own, like its accounts): the runs (who ran the test from
// where, the TURN URLs offered, the result the browser posted back) and the
// patient test links (who made them, until when, revoked or not, how often
// used), plus the key that signs the links. One connection, the web
// server's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/sqlite.h"

namespace vytal {

// admin.db migration 2 (admin_db.cc lists it).
inline constexpr const char* kConnectivityTestSchema = R"sql(
-- Patient test links: the token a clinic opens carries the id, the expiry and
-- an HMAC over both with the key below; this row says whether it is revoked.
CREATE TABLE conntest_links (
  id           TEXT PRIMARY KEY,
  label        TEXT NOT NULL,
  created_by   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  revoked_by   TEXT,
  runs         INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER
);
CREATE TABLE conntest_key (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  key TEXT NOT NULL
);
-- One row per test started (from the admin page or a link); result is set
-- once when the browser posts it back.
CREATE TABLE conntest_runs (
  id          TEXT PRIMARY KEY,
  source      TEXT NOT NULL CHECK (source IN ('admin', 'link')),
  actor       TEXT NOT NULL,
  link_id     TEXT,
  client_addr TEXT NOT NULL,
  user_agent  TEXT NOT NULL,
  servers     TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  result      TEXT
);
CREATE INDEX idx_conntest_runs_started ON conntest_runs(started_at);
CREATE INDEX idx_conntest_runs_link ON conntest_runs(link_id, started_at);
)sql";

struct TestLink {
  std::string id;  // 16 hex digits, also in the link's token
  std::string label;
  std::string created_by;
  int64_t created_at = 0;
  int64_t expires_at = 0;  // Unix ms
  std::optional<int64_t> revoked_at;
  std::optional<std::string> revoked_by;
  int64_t runs = 0;
  std::optional<int64_t> last_used_at;
};

struct TestRun {
  std::string id;      // UUIDv7
  std::string source;  // "admin" or "link"
  std::string actor;   // the account, or the link's id
  std::optional<std::string> link_id;
  std::string client_addr;  // as vytal-admin saw it (nginx's X-Real-IP)
  std::string user_agent;
  std::string servers;  // JSON array of the TURN URLs offered to this run
  int64_t started_at = 0;
  std::optional<int64_t> finished_at;
  std::optional<std::string> result;  // JSON, as normalised by the server
};

class ConnectivityStore {
 public:
  static constexpr int kMaxRuns = 1000;  // older runs are deleted as new ones start

  ConnectivityStore(sqlite3* db, const Clock& clock) : db_(db), clock_(clock) {}

  // The links' signing key (32 random bytes), made on first use.
  Result<std::string> link_key();

  Result<bool> add_link(const TestLink& link);
  Result<std::optional<TestLink>> find_link(const std::string& id);
  // False when there is no such link or it was already revoked.
  Result<bool> revoke_link(const std::string& id, const std::string& by);
  // Newest first.
  Result<std::vector<TestLink>> links(int limit);
  Result<bool> count_link_use(const std::string& id);

  Result<bool> add_run(const TestRun& run);
  Result<std::optional<TestRun>> find_run(const std::string& id);
  // False when the run is unknown or already has a result.
  Result<bool> finish_run(const std::string& id, const std::string& result);
  // Newest first; link_id narrows to one link's runs.
  Result<std::vector<TestRun>> runs(int limit, const std::optional<std::string>& link_id = std::nullopt);
  // The newest run with a result, whoever ran it.
  Result<std::optional<TestRun>> latest_finished();

 private:
  Error db_error() const;
  sqlite3* db_;
  const Clock& clock_;
};

}  // namespace vytal
