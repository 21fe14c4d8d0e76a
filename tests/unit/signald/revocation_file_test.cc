// The TURN revocations file, written by its own thread: changes coalesce,
// expired entries go, the cap drops those expiring first (counted), and the
// previous run's file is loaded at start so a restart re-enables nothing.
#include "signald/revocation_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace vytal {
namespace {

constexpr int64_t kNow = 1'800'000'000;

class RevocationFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("vytal-revoked-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "revoked").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::map<std::string, int64_t> Read() const {
    std::ifstream in(path_);
    std::map<std::string, int64_t> out;
    std::string user;
    int64_t until;
    while (in >> user >> until) out[user] = until;
    return out;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(RevocationFileTest, ChangesReachTheFileAndABurstIsOneWrite) {
  RevocationFile file(path_, 1000, kNow);
  for (int i = 0; i < 500; ++i) file.revoke("user-" + std::to_string(i) + "@call", kNow + 660, kNow);
  file.unrevoke("user-7@call", kNow);
  file.flush();
  auto entries = Read();
  EXPECT_EQ(entries.size(), 499u);
  EXPECT_EQ(entries.count("user-7@call"), 0u) << "rejoined: lifted";
  EXPECT_EQ(entries["user-8@call"], kNow + 660);
  EXPECT_LE(file.writes(), 10u) << "500 changes queued at once are coalesced, not one write each";
  EXPECT_EQ(file.entries(), 499u);
}

TEST_F(RevocationFileTest, ExpiredEntriesAreDropped) {
  RevocationFile file(path_, 1000, kNow);
  file.revoke("short@call", kNow + 10, kNow);
  file.revoke("long@call", kNow + 660, kNow);
  file.flush();
  EXPECT_EQ(Read().size(), 2u);
  file.revoke("later@call", kNow + 700, kNow + 20);  // the clock has moved past short's time
  file.flush();
  auto entries = Read();
  EXPECT_EQ(entries.count("short@call"), 0u);
  EXPECT_EQ(entries.size(), 2u);
}

TEST_F(RevocationFileTest, OverTheCapThoseExpiringFirstAreDroppedAndCounted) {
  RevocationFile file(path_, 100, kNow);
  for (int i = 0; i < 150; ++i) file.revoke("u" + std::to_string(i) + "@c", kNow + 100 + i, kNow);
  file.flush();
  auto entries = Read();
  EXPECT_EQ(entries.size(), 100u);
  EXPECT_EQ(entries.count("u49@c"), 0u);
  EXPECT_EQ(entries.count("u50@c"), 1u);
  EXPECT_EQ(entries.count("u149@c"), 1u);
  EXPECT_EQ(file.dropped_over_cap().load(), 50u);
}

TEST_F(RevocationFileTest, ARestartKeepsThePreviousRunsRevocations) {
  {
    RevocationFile first_run(path_, 1000, kNow);
    first_run.revoke("before-restart@call-1", kNow + 660, kNow);
    first_run.revoke("expires-during-downtime@call-1", kNow + 30, kNow);
  }  // signald stops (the destructor writes what is queued)
  RevocationFile second_run(path_, 1000, kNow + 60);
  EXPECT_EQ(second_run.loaded(), 1u) << "the one expired meanwhile is not loaded";
  second_run.revoke("after-restart@call-2", kNow + 720, kNow + 60);
  second_run.flush();
  auto entries = Read();
  EXPECT_EQ(entries.count("before-restart@call-1"), 1u) << "the first write after a restart must keep it";
  EXPECT_EQ(entries.count("after-restart@call-2"), 1u);
  EXPECT_EQ(entries.count("expires-during-downtime@call-1"), 0u);
}

TEST_F(RevocationFileTest, DestructorWritesWhatIsQueued) {
  {
    RevocationFile file(path_, 1000, kNow);
    file.revoke("last@call", kNow + 660, kNow);
  }
  EXPECT_EQ(Read().count("last@call"), 1u);
}

}  // namespace
}  // namespace vytal
