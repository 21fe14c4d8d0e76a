#include "common/time_format.h"

#include <gtest/gtest.h>

#include <string>

namespace vytal {
namespace {

struct Formatted {
  int64_t unix_ms;
  const char* text;
};

class FormatTimestampTest : public ::testing::TestWithParam<Formatted> {};

TEST_P(FormatTimestampTest, FormatsAndParsesBack) {
  const Formatted& t = GetParam();
  EXPECT_EQ(format_timestamp(t.unix_ms), t.text);
  EXPECT_EQ(parse_timestamp(t.text), t.unix_ms) << t.text;
}

// Expected values from Python's datetime.fromisoformat(...).timestamp().
INSTANTIATE_TEST_SUITE_P(Known, FormatTimestampTest,
                         ::testing::Values(Formatted{0, "1970-01-01T00:00:00.000Z"},
                                           Formatted{1700000000123, "2023-11-14T22:13:20.123Z"},
                                           Formatted{1795492348123, "2026-11-24T03:52:28.123Z"},
                                           Formatted{1709208000000, "2024-02-29T12:00:00.000Z"},
                                           Formatted{951782400000, "2000-02-29T00:00:00.000Z"},
                                           Formatted{1704067199999, "2023-12-31T23:59:59.999Z"},
                                           Formatted{-1, "1969-12-31T23:59:59.999Z"}));

TEST(TimestampTest, RoundTripsAcrossYears) {
  for (int64_t ms = -86400000LL * 365; ms < 4102444800000LL; ms += 86400000LL * 37 + 3600000 * 5 + 1234) {
    auto back = parse_timestamp(format_timestamp(ms));
    ASSERT_TRUE(back.has_value()) << format_timestamp(ms);
    EXPECT_EQ(*back, ms) << format_timestamp(ms);
  }
}

struct Parsed {
  const char* name;
  const char* text;
  std::optional<int64_t> unix_ms;  // nullopt: refused
};

class ParseTimestampTest : public ::testing::TestWithParam<Parsed> {};

TEST_P(ParseTimestampTest, Parses) {
  const Parsed& t = GetParam();
  EXPECT_EQ(parse_timestamp(t.text), t.unix_ms) << "'" << t.text << "'";
}

constexpr int64_t kNoon = 1717243200000;  // 2024-06-01T12:00:00Z

INSTANTIATE_TEST_SUITE_P(
    Rfc3339, ParseTimestampTest,
    ::testing::Values(Parsed{"utc_no_fraction", "2024-06-01T12:00:00Z", kNoon},
                      Parsed{"lower_case_t_and_z", "2024-06-01t12:00:00z", kNoon},
                      Parsed{"offset_plus_0200", "2024-06-01T10:00:00+02:00", 1717228800000},
                      Parsed{"offset_plus_0200_is_earlier", "2024-06-01T14:00:00+02:00", kNoon},
                      Parsed{"offset_minus_0530", "2024-06-01T06:30:00-05:30", kNoon},
                      Parsed{"offset_minus_0530_python", "2024-06-01T10:00:00-05:30", 1717255800000},
                      Parsed{"offset_zero", "2024-06-01T12:00:00+00:00", kNoon},
                      Parsed{"offset_crosses_midnight", "2024-06-02T01:00:00+13:00", kNoon},
                      Parsed{"fraction_1_digit", "2024-06-01T12:00:00.1Z", kNoon + 100},
                      Parsed{"fraction_2_digits", "2024-06-01T12:00:00.12Z", kNoon + 120},
                      Parsed{"fraction_3_digits", "2024-06-01T12:00:00.123Z", kNoon + 123},
                      Parsed{"fraction_4_digits", "2024-06-01T12:00:00.1234Z", kNoon + 123},
                      Parsed{"fraction_5_digits", "2024-06-01T12:00:00.12345Z", kNoon + 123},
                      Parsed{"fraction_6_digits", "2024-06-01T12:00:00.123456Z", kNoon + 123},
                      Parsed{"fraction_7_digits", "2024-06-01T12:00:00.1234567Z", kNoon + 123},
                      Parsed{"fraction_8_digits", "2024-06-01T12:00:00.12345678Z", kNoon + 123},
                      Parsed{"fraction_9_digits", "2024-06-01T12:00:00.999999999Z", kNoon + 999},
                      Parsed{"fraction_leading_zero", "2024-06-01T12:00:00.05Z", kNoon + 50},
                      Parsed{"fraction_with_offset", "2024-06-01T14:00:00.5+02:00", kNoon + 500},
                      Parsed{"leap_day_2024", "2024-02-29T12:00:00Z", 1709208000000},
                      Parsed{"leap_day_2000", "2000-02-29T00:00:00Z", 951782400000},
                      Parsed{"last_second_of_day", "2023-12-31T23:59:59Z", 1704067199000},
                      // Refused.
                      Parsed{"empty", "", std::nullopt}, Parsed{"no_zone", "2024-06-01T12:00:00", std::nullopt},
                      Parsed{"no_zone_with_fraction", "2024-06-01T12:00:00.123", std::nullopt},
                      Parsed{"date_only", "2024-06-01", std::nullopt},
                      Parsed{"feb_30", "2024-02-30T12:00:00Z", std::nullopt},
                      Parsed{"feb_29_non_leap", "2023-02-29T12:00:00Z", std::nullopt},
                      Parsed{"feb_29_1900", "1900-02-29T12:00:00Z", std::nullopt},
                      Parsed{"april_31", "2024-04-31T12:00:00Z", std::nullopt},
                      Parsed{"month_13", "2024-13-01T12:00:00Z", std::nullopt},
                      Parsed{"month_0", "2024-00-01T12:00:00Z", std::nullopt},
                      Parsed{"day_0", "2024-06-00T12:00:00Z", std::nullopt},
                      Parsed{"hour_24", "2024-06-01T24:00:00Z", std::nullopt},
                      Parsed{"minute_60", "2024-06-01T12:60:00Z", std::nullopt},
                      Parsed{"trailing_junk", "2024-06-01T12:00:00Zjunk", std::nullopt},
                      Parsed{"trailing_space", "2024-06-01T12:00:00Z ", std::nullopt},
                      Parsed{"trailing_after_offset", "2024-06-01T12:00:00+02:001", std::nullopt},
                      Parsed{"leading_space", " 2024-06-01T12:00:00Z", std::nullopt},
                      Parsed{"fraction_10_digits", "2024-06-01T12:00:00.1234567890Z", std::nullopt},
                      Parsed{"fraction_empty", "2024-06-01T12:00:00.Z", std::nullopt},
                      Parsed{"offset_without_colon", "2024-06-01T12:00:00+0200", std::nullopt},
                      Parsed{"offset_one_digit_hour", "2024-06-01T12:00:00+2:00", std::nullopt},
                      Parsed{"offset_hour_only", "2024-06-01T12:00:00+02", std::nullopt},
                      Parsed{"offset_minutes_60", "2024-06-01T12:00:00+02:60", std::nullopt},
                      Parsed{"slashes", "2024/06/01T12:00:00Z", std::nullopt},
                      Parsed{"two_digit_year", "24-06-01T12:00:00Z", std::nullopt},
                      Parsed{"missing_seconds", "2024-06-01T12:00Z", std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vytal
