#include "admin_ui/totp.h"

#include <gtest/gtest.h>

namespace vytal {
namespace {

// RFC 6238 Appendix B, the HMAC-SHA1 rows: the key is the ASCII string
// "12345678901234567890", 8 digits.
struct TotpVector {
  int64_t unix_s;
  const char* code;
};

class Rfc6238Sha1Test : public ::testing::TestWithParam<TotpVector> {};

TEST_P(Rfc6238Sha1Test, MatchesTheRfcsTable) {
  EXPECT_EQ(totp("12345678901234567890", GetParam().unix_s, 8), GetParam().code);
  // Six digits, as authenticator apps show them, are the last six.
  EXPECT_EQ(totp("12345678901234567890", GetParam().unix_s), std::string(GetParam().code).substr(2));
}

INSTANTIATE_TEST_SUITE_P(AppendixB, Rfc6238Sha1Test,
                         ::testing::Values(TotpVector{59, "94287082"}, TotpVector{1111111109, "07081804"},
                                           TotpVector{1111111111, "14050471"}, TotpVector{1234567890, "89005924"},
                                           TotpVector{2000000000, "69279037"}, TotpVector{20000000000, "65353130"}));

// RFC 4226 Appendix D: HOTP of the same key for counters 0..9, 6 digits.
TEST(HotpTest, MatchesRfc4226AppendixD) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t c = 0; c < 10; ++c) EXPECT_EQ(hotp("12345678901234567890", c, 6), expected[c]) << c;
}

TEST(TotpMatchTest, AcceptsOneStepEitherSideAndNothingFurther) {
  const std::string key = "12345678901234567890";
  int64_t now = 1111111111;  // step 37037037
  EXPECT_EQ(totp_match(key, totp(key, now), now), now / 30);
  EXPECT_EQ(totp_match(key, totp(key, now - 30), now), now / 30 - 1);
  EXPECT_EQ(totp_match(key, totp(key, now + 30), now), now / 30 + 1);
  EXPECT_FALSE(totp_match(key, totp(key, now - 60), now));
  EXPECT_FALSE(totp_match(key, totp(key, now + 60), now));
  EXPECT_FALSE(totp_match(key, "12345", now));
  EXPECT_FALSE(totp_match(key, "1234567", now));
}

// RFC 4648 section 10.
TEST(Base32Test, MatchesRfc4648AndRoundTrips) {
  EXPECT_EQ(base32_encode("foobar"), "MZXW6YTBOI");
  EXPECT_EQ(base32_encode("f"), "MY");
  EXPECT_EQ(base32_decode("MZXW6YTBOI======"), "foobar");
  EXPECT_EQ(base32_decode("mzxw 6ytb oi"), "foobar");
  EXPECT_FALSE(base32_decode("MZXW1"));
  const std::string bytes("\x01\x02\xff\x00 any bytes", 14);
  EXPECT_EQ(base32_decode(base32_encode(bytes)), bytes);
}

TEST(OtpauthTest, NamesIssuerAccountAndParameters) {
  EXPECT_EQ(otpauth_uri("VytalWatch", "alice", "foobar"),
            "otpauth://totp/VytalWatch:alice?secret=MZXW6YTBOI&issuer=VytalWatch&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace vytal
