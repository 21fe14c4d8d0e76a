// Repeated identical log lines are counted, not written again: a client that
// makes signald log the same line thousands of times cannot flood the journal.
#include "common/log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace vytal {
namespace {

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
            "error: call log: write refused for test [repeated 502 more time(s)]\n");
}

TEST_F(LogTest, DifferentLinesAreAllWritten) {
  for (int i = 0; i < 40; ++i) LOG_INFO("line %d", i);
  std::string text = Written();
  for (int i = 0; i < 40; ++i) EXPECT_NE(text.find("info: line " + std::to_string(i) + "\n"), std::string::npos) << i;
}

}  // namespace
}  // namespace vytal
