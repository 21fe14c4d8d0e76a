// The audit of refused requests: the first of a session's minute at once,
// the rest of that minute as one counted record once the minute is over, and
// whatever is still counted when vytal-admin stops; none left out.
#include "admin_ui/refusal_audit.h"

#include <gtest/gtest.h>

#include <vector>

namespace vytal {
namespace {

class RefusalAuditTest : public ::testing::Test {
 protected:
  // Flushes at `now_ms`; returns what was written.
  std::vector<CountedRefusals> flush(int64_t now_ms, bool all = false) {
    std::vector<CountedRefusals> out;
    audit_.flush(now_ms, all, [&](const CountedRefusals& c) {
      if (refuse_writes_) return false;
      out.push_back(c);
      return true;
    });
    return out;
  }
  RefusalAudit audit_;
  const RefusalActor victor_{"victor", "viewer", "192.0.2.7"};
  bool refuse_writes_ = false;
};

TEST_F(RefusalAuditTest, TheFirstAtOnceTheRestCountedWhenTheMinuteIsOver) {
  EXPECT_TRUE(audit_.refused("s1", victor_, "GET /api/accounts", 1000));
  EXPECT_FALSE(audit_.refused("s1", victor_, "POST /api/accounts", 2000));
  EXPECT_FALSE(audit_.refused("s1", victor_, "POST /api/accounts/alice/disable", 30000));
  EXPECT_TRUE(flush(60999).empty()) << "the minute is not over";
  auto written = flush(61000);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].count, 2);
  EXPECT_EQ(written[0].last, "POST /api/accounts/alice/disable");
  EXPECT_EQ(written[0].actor.account, "victor");
  EXPECT_EQ(written[0].actor.client, "192.0.2.7");
  EXPECT_TRUE(flush(200000).empty()) << "written once";
  EXPECT_TRUE(audit_.refused("s1", victor_, "GET /api/accounts", 200000)) << "a new minute starts with a record";
}

TEST_F(RefusalAuditTest, ALoneRefusalLeavesNoCountAndSessionsHaveTheirOwnMinutes) {
  EXPECT_TRUE(audit_.refused("s1", victor_, "a", 0));
  EXPECT_TRUE(audit_.refused("s2", victor_, "b", 10));
  EXPECT_FALSE(audit_.refused("s2", victor_, "c", 20));
  auto written = flush(70000);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].last, "c");
}

TEST_F(RefusalAuditTest, ARefusalAfterTheMinuteBeforeTheTimerKeepsTheCount) {
  EXPECT_TRUE(audit_.refused("s1", victor_, "a", 0));
  EXPECT_FALSE(audit_.refused("s1", victor_, "b", 1000));
  EXPECT_TRUE(audit_.refused("s1", victor_, "c", 60500));  // the timer has not run yet
  EXPECT_FALSE(audit_.refused("s1", victor_, "d", 61000));
  auto written = flush(62000);
  ASSERT_EQ(written.size(), 1u) << "the first minute's count, not yet the second's";
  EXPECT_EQ(written[0].last, "b");
  written = flush(0, true);  // vytal-admin stops
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].last, "d");
}

TEST_F(RefusalAuditTest, ACountTheOutboxCannotTakeWaitsForTheNextFlush) {
  EXPECT_TRUE(audit_.refused("s1", victor_, "a", 0));
  EXPECT_FALSE(audit_.refused("s1", victor_, "b", 1));
  refuse_writes_ = true;
  EXPECT_TRUE(flush(60000).empty());
  refuse_writes_ = false;
  auto written = flush(62000);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].count, 1);
}

TEST_F(RefusalAuditTest, ARecordNotKeptMakesTheNextRefusalAuditedAtOnce) {
  EXPECT_TRUE(audit_.refused("s1", victor_, "a", 0));
  audit_.not_audited("s1");
  EXPECT_TRUE(audit_.refused("s1", victor_, "b", 10));
}

}  // namespace
}  // namespace vytal
