// syncd's change reader on a call log whose schema is damaged (a column or a
// table of what it reads is not what it expects): every read is an error
// value that syncd reports and retries, never an abort at start-up (found by
// tests/fuzz/change_reader_fuzz).
#include "syncd/change_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "call_log/call_writer.h"
#include "call_log/schema.h"
#include "common/clock.h"
#include "common/sqlite.h"

namespace vytal {
namespace {

struct Damage {
  const char* name;
  const char* sql;     // run with writable_schema on
  bool rows_readable;  // read() and backlog() still work
  bool mark_readable;  // synced_mark() still works
};

class ChangeReaderDamagedSchemaTest : public ::testing::TestWithParam<Damage> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vytal-change-reader-" + std::to_string(::getpid()) + "-" + GetParam().name);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "calls.db").string();
    ManualClock clock{1'800'000'000'000};
    auto db = sqlite_open(path_, SqliteOpenOptions{});
    ASSERT_TRUE(db);
    ASSERT_TRUE(apply_migrations(db.value().get(), call_log_migrations(), clock.now_ms()));
    CallWriter writer(db.value().get(), clock, 6);
    ASSERT_TRUE(writer.create({"pat-1", "prov-1", "video", std::nullopt, std::nullopt},
                              Actor{"platform", Role::service, "127.0.0.1"}));
    std::string error;
    std::string damage = std::string("PRAGMA writable_schema=ON;") + GetParam().sql + ";PRAGMA writable_schema=OFF;";
    ASSERT_TRUE(sqlite_exec(db.value().get(), damage.c_str(), &error)) << error;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_P(ChangeReaderDamagedSchemaTest, ReadsAreErrorsNotAnAbort) {
  const Damage& d = GetParam();
  auto db = sqlite_open(path_, SqliteOpenOptions{});  // the damaged schema is read from here on
  ASSERT_TRUE(db) << db.error().message;
  ChangeReader reader(db.value().get());
  auto rows = reader.read(0, 100);
  auto backlog = reader.backlog(0);
  EXPECT_EQ(rows.ok(), d.rows_readable);
  EXPECT_EQ(backlog.ok(), d.rows_readable);
  if (!d.rows_readable) {
    EXPECT_EQ(rows.error().code, "call_log_schema");
    EXPECT_NE(rows.error().message.find("end_reason"), std::string::npos) << rows.error().message;
  }
  EXPECT_EQ(reader.synced_mark().ok(), d.mark_readable);
}

INSTANTIATE_TEST_SUITE_P(
    Damages, ChangeReaderDamagedSchemaTest,
    ::testing::Values(
        Damage{"SyncedColumnRenamed",
               "UPDATE sqlite_master SET sql = replace(sql, 'end_reason', 'exd_reason') WHERE name = 'calls'", false,
               true},
        Damage{"SyncBookkeepingColumnRenamed",
               "UPDATE sqlite_master SET sql = replace(sql, 'high_water', 'high_mark') WHERE name = 'sync_state'", true,
               false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vytal
