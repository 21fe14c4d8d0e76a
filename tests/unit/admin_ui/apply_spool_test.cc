// How vytal-admin reads the result of a settings change that vytal-apply
// wrote into the spool: none yet, one, one already audited, and one that is
// there but cannot be read; and how it audits them.
#include "admin_ui/apply_spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "admin_ui/admin_db.h"
#include "admin_ui/audit_outbox.h"
#include "admin_ui/turn_settings_api.h"
#include "common/clock.h"
#include "common/log.h"

namespace vytal {
namespace {

class ApplySpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("vytal-spool-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "results");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / "results" / name) << text; }

  std::filesystem::path dir_;
  const std::string id_ = "0123456789abcdef0123456789abcdef";
};

TEST_F(ApplySpoolTest, NoResultYetIsEmpty) {
  bool audited = true;
  auto r = read_apply_result(dir_.string(), id_, &audited);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value(), nullptr);
  EXPECT_FALSE(audited);
}

TEST_F(ApplySpoolTest, AResultAndAnAuditedOneAreRead) {
  write(id_ + ".json", R"({"state":"applied"})");
  bool audited = true;
  auto r = read_apply_result(dir_.string(), id_, &audited);
  ASSERT_TRUE(r && r.value()) << (r ? "no result" : r.error().message);
  EXPECT_STREQ(json_string_value(json_object_get(r.value().get(), "state")), "applied");
  EXPECT_FALSE(audited);

  ASSERT_TRUE(mark_apply_result_audited(dir_.string(), id_));
  r = read_apply_result(dir_.string(), id_, &audited);
  ASSERT_TRUE(r && r.value());
  EXPECT_TRUE(audited);
}

// A result the admin cannot read (here a directory where the file should be)
// is an error naming it, not a request that seems to wait forever.
TEST_F(ApplySpoolTest, AResultThatCannotBeReadIsAnError) {
  std::filesystem::create_directory(dir_ / "results" / (id_ + ".json"));
  bool audited = false;
  auto r = read_apply_result(dir_.string(), id_, &audited);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(id_ + ".json: Is a directory"), std::string::npos) << r.error().message;
}

TEST_F(ApplySpoolTest, AResultThatIsNotJsonIsAnError) {
  write(id_ + ".json", "half a wri");
  bool audited = false;
  auto r = read_apply_result(dir_.string(), id_, &audited);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a result"), std::string::npos) << r.error().message;
}

TEST_F(ApplySpoolTest, AResultThatIsNotAnObjectIsAnError) {
  write(id_ + ".json", "[1, 2]");
  bool audited = false;
  auto r = read_apply_result(dir_.string(), id_, &audited);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, (dir_ / "results" / (id_ + ".json")).string() + ": not a result ()");
}

TEST_F(ApplySpoolTest, ABadIdIsRefused) {
  bool audited = false;
  EXPECT_FALSE(read_apply_result(dir_.string(), "../../etc/passwd", &audited));
}

// The auditor audits what it can read, and says once which result it
// cannot: that one is neither audited nor marked, so it is tried again.
TEST_F(ApplySpoolTest, TheAuditorWarnsOfAResultItCannotRead) {
  const std::string unreadable = "fedcba9876543210fedcba9876543210";
  write(id_ + ".json", R"({"kind":"settings","state":"done","actor":"admin-1","finishedAt":1700000000000})");
  std::filesystem::create_directory(dir_ / "results" / (unreadable + ".json"));
  ManualClock clock{1'700'000'001'000};
  auto db = open_admin_db((dir_ / "admin.db").string(), clock.now_ms());
  ASSERT_TRUE(db) << db.error().message;
  AuditOutbox outbox(db.value().get(), clock);
  std::vector<std::string> warnings;
  set_log_sink([&](LogLevel level, const LogFields&, std::string_view m) {
    if (level == LogLevel::warn) warnings.emplace_back(m);
  });
  ApplyAuditMemory memory;
  int audited_now = audit_apply_results(dir_.string(), outbox, clock, memory);
  int second_round = audit_apply_results(dir_.string(), outbox, clock, memory);
  set_log_sink(nullptr);

  EXPECT_EQ(audited_now, 1);
  EXPECT_EQ(second_round, 0);
  EXPECT_EQ(outbox.size(), 1);
  EXPECT_EQ(memory.audited, std::set<std::string>{id_});
  EXPECT_EQ(memory.warned, std::set<std::string>{unreadable});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("request " + unreadable + " cannot be audited"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(unreadable + ".json: Is a directory"), std::string::npos) << warnings[0];
  bool audited = false;
  ASSERT_TRUE(read_apply_result(dir_.string(), id_, &audited));
  EXPECT_TRUE(audited);
}

}  // namespace
}  // namespace vytal
