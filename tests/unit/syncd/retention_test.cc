// syncd's retention on a real call log: what it may delete (synced, older
// than the cutoff) and what must stay (a parked row's version, a call while
// anything refers to it), and that every check of a row is an index search,
// not a read of a whole table per row (audit_log has no index on call_id).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <span>
#include <string>

#include "call_log/call_writer.h"
#include "call_log/schema.h"
#include "call_log/sync_tables.h"
#include "common/clock.h"
#include "common/sqlite.h"
#include "syncd/sync_worker.h"

namespace vytal {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("vytal-retention-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = sqlite_open((dir_ / "calls.db").string(), SqliteOpenOptions{});
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(db.value());
    ASSERT_TRUE(apply_migrations(db_.get(), call_log_migrations(), clock_.now_ms()));
    writer_ = std::make_unique<CallWriter>(db_.get(), clock_, 6);
  }
  void TearDown() override {
    writer_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A call made and ended at kT0 (its row, its events, its audit rows).
  std::string ended_call() {
    auto made = writer_->create({"pat-1", "prov-1", "video", std::nullopt, std::nullopt}, platform_);
    EXPECT_TRUE(made) << made.error().message;
    std::string id = made.value().call.id;
    EXPECT_TRUE(writer_->end(id, platform_, "done"));
    return id;
  }
  int64_t scalar(const std::string& sql) {
    Statement s(db_.get(), sql.c_str());
    return s.step() == SQLITE_ROW ? s.integer(0) : -1;
  }
  void exec(const std::string& sql) {
    std::string error;
    ASSERT_TRUE(sqlite_exec(db_.get(), sql.c_str(), &error)) << error;
  }
  // What prune() runs: every table, children before their calls, in chunks.
  void prune(int64_t mark, int64_t cutoff) {
    std::span<const SyncTable> tables = sync_tables();
    for (auto t = tables.rbegin(); t != tables.rend(); ++t) {
      Statement del(db_.get(), retention_delete_sql(*t).c_str());
      for (;;) {
        del.bind(1, mark).bind(2, cutoff);
        ASSERT_EQ(del.step(), SQLITE_DONE) << sqlite3_errmsg(db_.get());
        int n = sqlite3_changes(db_.get());
        del.reset();
        if (n == 0) break;
      }
    }
  }
  int64_t rows_of(const std::string& id) {
    int64_t n = scalar("SELECT count(*) FROM calls WHERE id = '" + id + "'");
    for (const char* t : {"call_participants", "call_events", "audit_log", "call_quality_samples", "turn_usage"})
      n += scalar(std::string("SELECT count(*) FROM ") + t + " WHERE call_id = '" + id + "'");
    return n;
  }

  ManualClock clock_{kT0};
  std::filesystem::path dir_;
  SqlitePtr db_;
  std::unique_ptr<CallWriter> writer_;
  const Actor platform_{"platform", Role::service, "127.0.0.1"};
};

TEST_F(RetentionTest, EveryCheckOfARowIsAnIndexSearch) {
  for (const SyncTable& t : sync_tables()) {
    Statement plan(db_.get(), ("EXPLAIN QUERY PLAN " + retention_delete_sql(t)).c_str());
    std::string detail;
    while (plan.step() == SQLITE_ROW) detail += plan.text(3) + "; ";
    // k: calls, x: a call's rows, p: sync_parked, searched once per row.
    for (const char* scan : {"SCAN k", "SCAN x", "SCAN p"})
      EXPECT_EQ(detail.find(scan), std::string::npos) << t.name << ": " << detail;
    if (std::string(t.name) == "calls") {
      EXPECT_NE(detail.find("LIST SUBQUERY"), std::string::npos) << "audit_log's call ids, listed once: " << detail;
    }
  }
}

TEST_F(RetentionTest, SyncedOldRowsGoAndAParkedVersionStaysWithItsCall) {
  std::string gone = ended_call();
  std::string kept = ended_call();
  ASSERT_GT(rows_of(gone), 2);
  // PostgreSQL refused the current version of one of `kept`'s events; an
  // older version of one of `gone`'s was refused too, but its current one
  // arrived.
  exec(
      "INSERT INTO sync_parked(table_name, row_id, change_seq, error, parked_at) SELECT 'call_events', id, "
      "change_seq, 'refused', 0 FROM call_events WHERE call_id = '" +
      kept + "' LIMIT 1");
  exec(
      "INSERT INTO sync_parked(table_name, row_id, change_seq, error, parked_at) SELECT 'call_events', id, "
      "change_seq - 1, 'refused', 0 FROM call_events WHERE call_id = '" +
      gone + "' LIMIT 1");
  int64_t mark = scalar("SELECT max(change_seq) FROM calls") + 100;
  prune(mark, kT0 + 1);
  EXPECT_EQ(rows_of(gone), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM call_events WHERE call_id = '" + kept + "'"), 1) << "the parked version";
  EXPECT_EQ(scalar("SELECT count(*) FROM calls WHERE id = '" + kept + "'"), 1) << "its call, while it refers to it";
}

TEST_F(RetentionTest, ACallStaysWhileAnAuditRowRefersToItAndAuditRowsWithoutACallKeepNone) {
  std::string call = ended_call();
  exec("UPDATE audit_log SET updated_at = " + std::to_string(kT0 + 10) + " WHERE call_id = '" + call + "'");
  std::string other = ended_call();
  exec("UPDATE audit_log SET call_id = NULL WHERE call_id = '" + other + "'");  // no call's: a login, say
  exec("UPDATE audit_log SET updated_at = " + std::to_string(kT0 + 10) + " WHERE call_id IS NULL");
  int64_t mark = scalar("SELECT max(change_seq) FROM calls") + 100;
  prune(mark, kT0 + 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM calls WHERE id = '" + call + "'"), 1) << "its audit rows are recent";
  EXPECT_EQ(scalar("SELECT count(*) FROM calls WHERE id = '" + other + "'"), 0) << "rows without a call keep none";
  prune(mark, kT0 + 11);
  EXPECT_EQ(rows_of(call), 0) << "once its audit rows are old too";
}

TEST_F(RetentionTest, NothingAboveTheMarkOrNewerThanTheCutoffGoes) {
  std::string call = ended_call();
  int64_t rows = rows_of(call);
  prune(scalar("SELECT min(change_seq) FROM call_events WHERE call_id = '" + call + "'") - 1, kT0 + 1);
  EXPECT_EQ(rows_of(call), rows) << "above the mark";
  prune(scalar("SELECT max(change_seq) FROM calls") + 100, kT0);
  EXPECT_EQ(rows_of(call), rows) << "not older than the cutoff";
}

}  // namespace
}  // namespace vytal
