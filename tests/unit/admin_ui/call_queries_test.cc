#include "admin_ui/call_queries.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "call_log/schema.h"
#include "common/json.h"
#include "common/sqlite.h"

namespace vytal {
namespace {

// A call log in memory with 30,000 calls: every 300th failed (100 of them,
// "rare"), the rest ended (common), one second apart.
class CallQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = sqlite_open(":memory:", SqliteOpenOptions{});
    ASSERT_TRUE(opened);
    db = std::move(opened.value());
    ASSERT_TRUE(apply_migrations(db.get(), call_log_migrations(), 1));
    std::string error;
    ASSERT_TRUE(sqlite_exec(db.get(), R"sql(
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
      INSERT INTO calls(id, patient_id, provider_id, type, status, created_by, created_at, updated_at, version, change_seq)
      SELECT printf('00000000-0000-7000-8000-%012d', i), 'p' || (i % 100), 'd' || (i % 7), 'video',
             CASE WHEN i % 300 = 0 THEN 'failed' ELSE 'ended' END, 'platform', 1000000 + i * 1000, 0, 1, i FROM n;
    )sql",
                            &error))
        << error;
  }

  // Every id the search yields, page after page.
  std::vector<std::string> all_pages(CallSearch f) {
    std::vector<std::string> ids;
    for (;;) {
      auto page = search_calls(db.get(), f);
      EXPECT_TRUE(page) << page.error().message;
      const json_t* calls = json_object_get(page.value().get(), "calls");
      for (size_t i = 0; i < json_array_size(calls); ++i)
        ids.emplace_back(*json_string_field(json_array_get(calls, i), "id"));
      auto next = json_string_field(page.value().get(), "nextCursor");
      if (!next) return ids;
      f.before = decode_cursor(*next);
    }
  }

  SqlitePtr db;
};

TEST_F(CallQueriesTest, RareAndCommonStatusesPageNewestFirstWithoutGapsOrRepeats) {
  CallSearch rare;
  rare.status = "failed";
  rare.limit = 7;
  std::vector<std::string> failed = all_pages(rare);
  ASSERT_EQ(failed.size(), 100u);
  EXPECT_EQ(failed.front(), "00000000-0000-7000-8000-000000030000");
  EXPECT_EQ(failed.back(), "00000000-0000-7000-8000-000000000300");
  for (size_t i = 1; i < failed.size(); ++i) EXPECT_GT(failed[i - 1], failed[i]);

  CallSearch common;
  common.status = "ended";
  common.limit = 200;
  common.from = 1000000 + 29000 * 1000;
  std::vector<std::string> ended = all_pages(common);
  EXPECT_EQ(ended.size(), 1001u - 4u) << "calls 29000 to 30000 but the failed 29100, 29400, 29700, 30000";
}

TEST_F(CallQueriesTest, PatientAndStatusTogether) {
  CallSearch f;
  f.patient_id = "p0";
  f.status = "failed";
  std::vector<std::string> ids = all_pages(f);
  EXPECT_EQ(ids.size(), 100u) << "every 300th call is patient p0's";
}

}  // namespace
}  // namespace vytal
