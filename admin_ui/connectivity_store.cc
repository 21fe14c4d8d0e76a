#include "admin_ui/connectivity_store.h"

#include "common/crypto.h"

namespace vytal {

namespace {

constexpr const char* kLinkColumns =
    "id, label, created_by, created_at, expires_at, revoked_at, revoked_by, runs, last_used_at";
constexpr const char* kRunColumns =
    "id, source, actor, link_id, client_addr, user_agent, servers, started_at, finished_at, result";

TestLink link_from(const Statement& s) {
  return TestLink{s.text(0),        s.text(1),     s.text(2),    s.integer(3),    s.integer(4),
                  s.opt_integer(5), s.opt_text(6), s.integer(7), s.opt_integer(8)};
}

TestRun run_from(const Statement& s) {
  return TestRun{s.text(0), s.text(1), s.text(2),    s.opt_text(3),    s.text(4),
                 s.text(5), s.text(6), s.integer(7), s.opt_integer(8), s.opt_text(9)};
}

}  // namespace

Error ConnectivityStore::db_error() const { return Error{"db_error", std::string("admin.db: ") + sqlite3_errmsg(db_)}; }

Result<std::string> ConnectivityStore::link_key() {
  Statement get(db_, "SELECT key FROM conntest_key WHERE id = 1");
  int rc = get.step();
  if (rc == SQLITE_ROW) {
    auto key = base64url_decode(get.text(0));
    if (key && key->size() == 32) return *key;
    return Error{"db_error", "admin.db: the connectivity test links' key is damaged"};
  }
  if (rc != SQLITE_DONE) return db_error();
  std::string key = random_bytes(32);
  Statement put(db_, "INSERT OR IGNORE INTO conntest_key (id, key) VALUES (1, ?1)");
  put.bind(1, base64url_encode(key));
  if (put.step() != SQLITE_DONE) return db_error();
  return link_key();  // another writer (vytalctl) may have made it first
}

Result<bool> ConnectivityStore::add_link(const TestLink& l) {
  Statement s(db_,
              "INSERT INTO conntest_links (id, label, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)");
  s.bind(1, l.id).bind(2, l.label).bind(3, l.created_by).bind(4, l.created_at).bind(5, l.expires_at);
  if (s.step() != SQLITE_DONE) return db_error();
  return true;
}

Result<std::optional<TestLink>> ConnectivityStore::find_link(const std::string& id) {
  Statement s(db_, (std::string("SELECT ") + kLinkColumns + " FROM conntest_links WHERE id = ?1").c_str());
  s.bind(1, id);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<TestLink>();
  if (rc != SQLITE_ROW) return db_error();
  return std::optional<TestLink>(link_from(s));
}

Result<bool> ConnectivityStore::revoke_link(const std::string& id, const std::string& by) {
  Statement s(db_, "UPDATE conntest_links SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL");
  s.bind(1, id).bind(2, clock_.now_ms()).bind(3, by);
  if (s.step() != SQLITE_DONE) return db_error();
  return sqlite3_changes(db_) == 1;
}

Result<std::vector<TestLink>> ConnectivityStore::links(int limit) {
  Statement s(
      db_, (std::string("SELECT ") + kLinkColumns + " FROM conntest_links ORDER BY created_at DESC, id DESC LIMIT ?1")
               .c_str());
  s.bind(1, static_cast<int64_t>(limit));
  std::vector<TestLink> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(link_from(s));
  if (rc != SQLITE_DONE) return db_error();
  return out;
}

Result<bool> ConnectivityStore::count_link_use(const std::string& id) {
  Statement s(db_, "UPDATE conntest_links SET runs = runs + 1, last_used_at = ?2 WHERE id = ?1");
  s.bind(1, id).bind(2, clock_.now_ms());
  if (s.step() != SQLITE_DONE) return db_error();
  return true;
}

Result<bool> ConnectivityStore::add_run(const TestRun& r) {
  Statement s(db_,
              "INSERT INTO conntest_runs (id, source, actor, link_id, client_addr, user_agent, servers, started_at) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  s.bind(1, r.id).bind(2, r.source).bind(3, r.actor).bind(4, r.link_id).bind(5, r.client_addr);
  s.bind(6, r.user_agent).bind(7, r.servers).bind(8, r.started_at);
  if (s.step() != SQLITE_DONE) return db_error();
  Statement prune(db_,
                  "DELETE FROM conntest_runs WHERE started_at < (SELECT started_at FROM conntest_runs "
                  "ORDER BY started_at DESC LIMIT 1 OFFSET ?1)");
  prune.bind(1, static_cast<int64_t>(kMaxRuns - 1));
  if (prune.step() != SQLITE_DONE) return db_error();
  return true;
}

Result<std::optional<TestRun>> ConnectivityStore::find_run(const std::string& id) {
  Statement s(db_, (std::string("SELECT ") + kRunColumns + " FROM conntest_runs WHERE id = ?1").c_str());
  s.bind(1, id);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<TestRun>();
  if (rc != SQLITE_ROW) return db_error();
  return std::optional<TestRun>(run_from(s));
}

Result<bool> ConnectivityStore::finish_run(const std::string& id, const std::string& result) {
  Statement s(db_, "UPDATE conntest_runs SET result = ?2, finished_at = ?3 WHERE id = ?1 AND result IS NULL");
  s.bind(1, id).bind(2, result).bind(3, clock_.now_ms());
  if (s.step() != SQLITE_DONE) return db_error();
  return sqlite3_changes(db_) == 1;
}

Result<std::vector<TestRun>> ConnectivityStore::runs(int limit, const std::optional<std::string>& link_id) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM conntest_runs" +
                    (link_id ? " WHERE link_id = ?2" : "") + " ORDER BY started_at DESC, id DESC LIMIT ?1";
  Statement s(db_, sql.c_str());
  s.bind(1, static_cast<int64_t>(limit));
  if (link_id) s.bind(2, *link_id);
  std::vector<TestRun> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(run_from(s));
  if (rc != SQLITE_DONE) return db_error();
  return out;
}

Result<std::optional<TestRun>> ConnectivityStore::latest_finished() {
  Statement s(db_, (std::string("SELECT ") + kRunColumns +
                    " FROM conntest_runs WHERE result IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1")
                       .c_str());
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<TestRun>();
  if (rc != SQLITE_ROW) return db_error();
  return std::optional<TestRun>(run_from(s));
}

}  // namespace vytal
