// Logging: repeated identical warnings and errors are counted, not written
// again (a client that makes signald log the same line thousands of times
// cannot flood the journal); events carry their ids as fields.
#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace vytal {
namespace {

// What a sequence of lines turns into, as written (summaries included).
struct Step {
  int64_t at_ms;
  LogLevel level;
  const char* line;
};
struct RepeatCase {
  const char* name;
  std::vector<Step> steps;
  std::vector<std::string> written;  // after a final flush
};

class RepeatFilterTest : public ::testing::TestWithParam<RepeatCase> {};

TEST_P(RepeatFilterTest, WritesFirstLinesAndCountsRepeats) {
  RepeatFilter filter;
  std::vector<std::string> written;
  for (const Step& s : GetParam().steps) {
    RepeatFilter::Verdict v = filter.check(s.level, s.line, s.at_ms);
    for (const auto& summary : v.summaries) written.push_back(summary.text);
    if (v.write) written.push_back(s.line);
  }
  for (const auto& summary : filter.flush()) written.push_back(summary.text);
  EXPECT_EQ(written, GetParam().written);
}

constexpr LogLevel E = LogLevel::error, W = LogLevel::warn, I = LogLevel::info;
const char* kDisk = "call log: commit failed: disk I/O error";

INSTANTIATE_TEST_SUITE_P(
    Cases, RepeatFilterTest,
    ::testing::Values(
        RepeatCase{"single_error", {{0, E, kDisk}}, {kDisk}},
        RepeatCase{"burst_counted_once",
                   {{0, E, kDisk}, {10, E, kDisk}, {20, E, kDisk}, {30, E, kDisk}},
                   {kDisk, std::string(kDisk) + " (repeated 3 times)"}},
        RepeatCase{"other_lines_between_do_not_reset_the_count",
                   {{0, E, kDisk}, {5, I, "participant joined"}, {10, E, kDisk}, {15, W, "other"}, {20, E, kDisk}},
                   {kDisk, "participant joined", "other", std::string(kDisk) + " (repeated 2 times)"}},
        RepeatCase{"count_told_when_the_window_passes",
                   {{0, E, kDisk}, {100, E, kDisk}, {10000, I, "call created"}},
                   {kDisk, std::string(kDisk) + " (repeated 1 times)", "call created"}},
        RepeatCase{
            "steady_flood_one_summary_per_window",
            {{0, E, kDisk}, {5000, E, kDisk}, {9999, E, kDisk}, {10000, E, kDisk}, {15000, E, kDisk}},
            {kDisk, std::string(kDisk) + " (repeated 2 times)", kDisk, std::string(kDisk) + " (repeated 1 times)"}},
        RepeatCase{"rare_repeats_are_written_each_time",
                   {{0, E, kDisk}, {20000, E, kDisk}, {40000, E, kDisk}},
                   {kDisk, kDisk, kDisk}},
        RepeatCase{"info_lines_are_never_limited",
                   {{0, I, "participant joined"}, {1, I, "participant joined"}},
                   {"participant joined", "participant joined"}},
        RepeatCase{"same_text_other_level_is_another_line",
                   {{0, W, "x"}, {1, E, "x"}, {2, E, "x"}},
                   {"x", "x", "x (repeated 1 times)"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RepeatFilterTest, FollowsABoundedNumberOfLines) {
  RepeatFilter filter;
  for (size_t i = 0; i < RepeatFilter::kMaxTracked; ++i) {
    filter.check(LogLevel::error, "error " + std::to_string(i), static_cast<int64_t>(i));
    filter.check(LogLevel::error, "error " + std::to_string(i), static_cast<int64_t>(i));
  }
  RepeatFilter::Verdict v = filter.check(LogLevel::error, "one more", 100);
  ASSERT_EQ(v.summaries.size(), 1u);
  EXPECT_EQ(v.summaries[0].text, "error 0 (repeated 1 times)");
  EXPECT_TRUE(v.write);
}

struct Captured {
  LogLevel level;
  std::string call_id, user_id, message;
};

TEST(LogEventTest, IdsBecomeFieldsAndEndTheMessage) {
  std::vector<Captured> lines;
  set_log_sink([&](LogLevel level, const LogFields& f, std::string_view m) {
    lines.push_back({level, std::string(f.call_id), std::string(f.user_id), std::string(m)});
  });
  log_event(LogLevel::info, {"01a2", "patient-1"}, "participant joined role=%s", "patient");
  log_event(LogLevel::info, {"01a2", {}}, "call ended reason=%s duration_ms=%d", "completed", 61000);
  log_event(LogLevel::debug, {"01a2", {}}, "below the level: not written");
  set_log_sink(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].message, "participant joined role=patient call=01a2 user=patient-1");
  EXPECT_EQ(lines[0].call_id, "01a2");
  EXPECT_EQ(lines[0].user_id, "patient-1");
  EXPECT_EQ(lines[1].message, "call ended reason=completed duration_ms=61000 call=01a2");
  EXPECT_EQ(lines[1].user_id, "");
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = std::tmpfile();
    ASSERT_NE(out_, nullptr);
    log_flush_repeats();  // nothing of another test's lines is pending
    set_log_output(out_);
  }
  void TearDown() override {
    log_flush_repeats();
    set_log_output(nullptr);
    std::fclose(out_);
  }
  std::string Written() {
    std::fflush(out_);
    std::rewind(out_);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, out_)) > 0) text.append(buf, n);
    return text;
  }
  FILE* out_ = nullptr;
};

TEST_F(LogTest, IdenticalLinesAreWrittenOnceAndCounted) {
  for (int i = 0; i < 500; ++i) LOG_ERROR("call log: write refused %s", "for test");
  LOG_WARN("another line %d", 1);
  for (int i = 0; i < 3; ++i) LOG_ERROR("call log: write refused %s", "for test");
  EXPECT_EQ(Written(), "error: call log: write refused for test\nwarn: another line 1\n");
  log_flush_repeats();
  EXPECT_EQ(Written(),
            "error: call log: write refused for test\nwarn: another line 1\n"
            "error: call log: write refused for test (repeated 502 times)\n");
}

TEST_F(LogTest, DifferentLinesAreAllWritten) {
  for (int i = 0; i < 40; ++i) LOG_INFO("line %d", i);
  std::string text = Written();
  for (int i = 0; i < 40; ++i) EXPECT_NE(text.find("info: line " + std::to_string(i) + "\n"), std::string::npos) << i;
}

// Standard error itself (no sink): fd 2 is a temporary file during each test.
class StderrLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_sink(nullptr);
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    file_ = std::tmpfile();
    ASSERT_NE(file_, nullptr);
    ASSERT_EQ(dup2(fileno(file_), STDERR_FILENO), STDERR_FILENO);
  }
  void TearDown() override {
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    std::fclose(file_);
  }
  std::string Written() const {
    std::string text(1 << 20, '\0');
    ssize_t n = pread(fileno(file_), text.data(), text.size(), 0);
    text.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return text;
  }
  int saved_ = -1;
  FILE* file_ = nullptr;
};

TEST_F(StderrLogTest, ALineIsWrittenAtOnceOutsideABatch) {
  LOG_INFO("alone %d", 1);
  EXPECT_EQ(Written(), "info: alone 1\n");
}

TEST_F(StderrLogTest, ABatchsLinesGoOutTogetherWhenTheOutermostEnds) {
  {
    LogBatch outer;
    LOG_INFO("first %d", 1);
    {
      LogBatch inner;
      log_event(LogLevel::info, {"01a2", "patient-1"}, "participant joined role=%s", "patient");
    }
    EXPECT_EQ(Written(), "") << "kept until the outermost batch ends";
    LOG_WARN("third");
  }
  EXPECT_EQ(Written(), "info: first 1\ninfo: participant joined role=patient call=01a2 user=patient-1\nwarn: third\n");
  LOG_INFO("after");
  EXPECT_TRUE(Written().ends_with("warn: third\ninfo: after\n"));
}

TEST_F(StderrLogTest, ALongBatchIsWrittenAsItGrows) {
  LogBatch batch;
  for (int i = 0; i < 2000; ++i) LOG_INFO("line %04d of a long burst of lines from one loop turn", i);
  std::string early = Written();
  EXPECT_FALSE(early.empty()) << "at most 64 KiB is kept";
  EXPECT_TRUE(early.starts_with("info: line 0000 of")) << early.substr(0, 80);
}

}  // namespace
}  // namespace vytal
