#include "common/key_ring.h"

#include <gtest/gtest.h>

namespace vytal {
namespace {

TEST(KeyRing, ReadsRingsWithAndWithoutTheirTimes) {
  std::string error;
  auto old = parse_key_ring("# vytal TURN key ring\ncurrent abc\nprevious def 1700000000\n", &error);
  ASSERT_TRUE(old) << error;
  EXPECT_EQ(old->current_since_s, 0);
  EXPECT_EQ(old->previous_since_s, 0);
  EXPECT_EQ(old->accepted(1699999999), (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(old->accepted(1700000000), (std::vector<std::string>{"abc"}));

  KeyRing ring{"abc", "def", 1700000000, 1690000000, 1680000000};
  auto back = parse_key_ring(format_key_ring(ring), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->current, "abc");
  EXPECT_EQ(back->previous, "def");
  EXPECT_EQ(back->previous_until_s, 1700000000);
  EXPECT_EQ(back->current_since_s, 1690000000);
  EXPECT_EQ(back->previous_since_s, 1680000000);
  // The secret stays alone on its line (tools read it with sed 's/^current //').
  EXPECT_NE(format_key_ring(ring).find("\ncurrent abc\n"), std::string::npos);
}

TEST(KeyRing, RefusesWhatIsNotAKeyRing) {
  std::string error;
  for (const char* text : {"current abc\ncurrent-since soon\n", "current abc\nprevious-since -5\n",
                           "current abc extra\n", "previous def 1\n", "current abc\nnext ghi\n"}) {
    EXPECT_FALSE(parse_key_ring(text, &error)) << text;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace vytal
