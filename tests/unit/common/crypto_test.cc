#include "common/crypto.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

namespace vytal {
namespace {

std::string hex(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

// --- base64url ----------------------------------------------------------------

struct Base64Vector {
  std::string bytes;
  const char* text;
};

class Base64UrlVectorTest : public ::testing::TestWithParam<Base64Vector> {};

TEST_P(Base64UrlVectorTest, EncodesAndDecodes) {
  const Base64Vector& t = GetParam();
  EXPECT_EQ(base64url_encode(t.bytes), t.text);
  auto back = base64url_decode(t.text);
  ASSERT_TRUE(back.has_value()) << t.text;
  EXPECT_EQ(*back, t.bytes) << t.text;
}

// RFC 4648 section 10 vectors without padding, plus the two characters that
// differ from the standard alphabet (section 5).
INSTANTIATE_TEST_SUITE_P(Rfc4648, Base64UrlVectorTest,
                         ::testing::Values(Base64Vector{"", ""}, Base64Vector{"f", "Zg"}, Base64Vector{"fo", "Zm8"},
                                           Base64Vector{"foo", "Zm9v"}, Base64Vector{"foob", "Zm9vYg"},
                                           Base64Vector{"fooba", "Zm9vYmE"}, Base64Vector{"foobar", "Zm9vYmFy"},
                                           Base64Vector{"\xfb\xff", "-_8"},
                                           Base64Vector{std::string("\x00\x00\x00", 3), "AAAA"},
                                           Base64Vector{"\xff\xff\xff", "____"}, Base64Vector{"\xfb\xef\xbe", "----"}));

TEST(Base64UrlTest, RoundTripsEveryLengthAndByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    std::string bytes = all.substr(all.size() - len);
    std::string text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos) << text;
    EXPECT_NE(text.size() % 4, 1u);
    auto back = base64url_decode(text);
    ASSERT_TRUE(back.has_value()) << "length " << len << ": " << text;
    EXPECT_EQ(*back, bytes) << "length " << len;
  }
  for (int i = 0; i < 64; ++i) {
    std::string bytes = random_bytes(static_cast<size_t>(i));
    EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes);
  }
}

struct Refusal {
  const char* name;
  std::string text;
};

class Base64UrlRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(Base64UrlRefusalTest, Refuses) {
  auto got = base64url_decode(GetParam().text);
  EXPECT_FALSE(got.has_value()) << "'" << GetParam().text << "' decoded to " << hex(got.value_or(""));
}

INSTANTIATE_TEST_SUITE_P(Rfc4648, Base64UrlRefusalTest,
                         ::testing::Values(Refusal{"padding_two", "Zg=="}, Refusal{"padding_one", "Zm8="},
                                           Refusal{"padding_only", "===="}, Refusal{"plus", "+w"},
                                           Refusal{"slash", "/w"}, Refusal{"plus_in_middle", "Zm9v+mFy"},
                                           Refusal{"space", "Zm9v YmFy"}, Refusal{"leading_space", " Zm9v"},
                                           Refusal{"trailing_newline", "Zm9v\n"}, Refusal{"tab", "Zm\t9v"},
                                           Refusal{"length_mod4_is_1", "Zm9vY"}, Refusal{"single_char", "A"},
                                           Refusal{"nul_byte", std::string("Zm\0v", 4)},
                                           Refusal{"high_byte", "Zm9\xc3\xa9"}, Refusal{"dot", "Zm.v"},
                                           // Non-canonical: unused trailing bits set (RFC 4648 section 3.5).
                                           Refusal{"trailing_bits_AB", "AB"}, Refusal{"trailing_bits_Zh", "Zh"},
                                           Refusal{"trailing_bits_AAB", "AAB"}, Refusal{"trailing_bits_Zm9", "Zm9"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Base64UrlTest, CanonicalShortFormsDecode) {
  EXPECT_EQ(base64url_decode("AA"), std::string(1, '\0'));
  EXPECT_EQ(base64url_decode("AAA"), std::string(2, '\0'));
  EXPECT_EQ(base64url_decode("Zg"), "f");
}

TEST(Base64Test, StandardAlphabetKeepsPadding) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
}

// --- HMAC ------------------------------------------------------------------------

TEST(HmacTest, Sha256Rfc4231TestCase2) {
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacTest, Sha256Rfc4231TestCase1) {
  EXPECT_EQ(hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacTest, Sha1Rfc2202TestCase2) {
  EXPECT_EQ(hex(hmac_sha1("Jefe", "what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(HmacTest, KeysLongerThanTheBlockAreHashed) {
  // RFC 2202 test case 6: an 80-byte key of 0xaa.
  EXPECT_EQ(hex(hmac_sha1(std::string(80, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

TEST(HmacTest, KeyAndDataMayContainNulBytes) {
  std::string key("a\0b", 3);
  EXPECT_NE(hmac_sha256(key, "x"), hmac_sha256("a", "x"));
  EXPECT_NE(hmac_sha256("k", std::string("x\0y", 3)), hmac_sha256("k", "x"));
}

// --- UUID v7 ---------------------------------------------------------------------

int hex_value(char c) { return c >= 'a' ? c - 'a' + 10 : c - '0'; }

TEST(UuidTest, Version7Layout) {
  constexpr int64_t ms = 0x0123456789ab;
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string u = uuid_v7(ms);
    ASSERT_EQ(u.size(), 36u) << u;
    EXPECT_TRUE(is_uuid(u)) << u;
    EXPECT_EQ(u.substr(0, 13), "01234567-89ab") << "48-bit big-endian Unix ms prefix: " << u;
    EXPECT_EQ(u[14], '7') << "version nibble: " << u;
    EXPECT_EQ(hex_value(u[19]) >> 2, 2) << "variant bits 10: " << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 200u) << "the random part differs between UUIDs of the same millisecond";
}

TEST(UuidTest, Version7FromGivenBytesIsTheSameForTheSameBytes) {
  constexpr int64_t ms = 0x0123456789ab;
  std::string a = uuid_v7(ms, sha256("request-1"));
  EXPECT_EQ(a, uuid_v7(ms, sha256("request-1")));
  EXPECT_NE(a, uuid_v7(ms, sha256("request-2")));
  EXPECT_NE(a, uuid_v7(ms + 1, sha256("request-1")));
  EXPECT_TRUE(is_uuid(a)) << a;
  EXPECT_EQ(a.substr(0, 13), "01234567-89ab") << a;
  EXPECT_EQ(a[14], '7') << a;
  EXPECT_EQ(hex_value(a[19]) >> 2, 2) << a;
}

TEST(UuidTest, RealTimestampsSortByTime) {
  int64_t t = 1700000000000;  // 2023-11-14
  std::string a = uuid_v7(t);
  std::string b = uuid_v7(t + 1);
  std::string c = uuid_v7(t + 86400000);
  EXPECT_EQ(a.substr(0, 13), "018bcfe5-6800");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST(UuidTest, IsUuidAcceptsCanonicalForms) {
  EXPECT_TRUE(is_uuid("018bcfe5-6800-7abc-8def-0123456789ab"));
  EXPECT_TRUE(is_uuid("00000000-0000-0000-0000-000000000000"));
}

class IsUuidRefusalTest : public ::testing::TestWithParam<const char*> {};

TEST_P(IsUuidRefusalTest, Refuses) { EXPECT_FALSE(is_uuid(GetParam())) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(
    Shapes, IsUuidRefusalTest,
    ::testing::Values("", "018bcfe5-6800-7abc-8def-0123456789a", "018bcfe5-6800-7abc-8def-0123456789abc",
                      "018bcfe568007abc8def0123456789ab", "018bcfe5-6800-7abc-8def0-123456789ab",
                      "018bcfe5_6800_7abc_8def_0123456789ab", "018bcfe5-6800-7abc-8deg-0123456789ab",
                      "{18bcfe5-6800-7abc-8def-0123456789a}", "018bcfe5-6800-7abc-8def-0123456789a ",
                      "' OR 1=1 --                         "));

// --- constant_time_equal -------------------------------------------------------------

TEST(ConstantTimeEqualTest, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret "));
  EXPECT_FALSE(constant_time_equal("secret", "secre"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(RandomBytesTest, GivesTheRequestedLength) {
  EXPECT_EQ(random_bytes(0).size(), 0u);
  EXPECT_EQ(random_bytes(32).size(), 32u);
  EXPECT_NE(random_bytes(32), random_bytes(32));
}

// A file read in pieces gives the digest of its whole content (FIPS 180-2's
// "abc", and a file over the 64 KiB read buffer against sha256 of the bytes).
TEST(Sha256FileTest, DigestsTheWholeFile) {
  std::string dir = ::testing::TempDir();
  std::string small = dir + "/sha256_abc", large = dir + "/sha256_large";
  std::string content(200000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + 3);
  std::FILE* f = std::fopen(small.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("abc", f);
  std::fclose(f);
  f = std::fopen(large.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  EXPECT_EQ(hex(sha256_file(small).value()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_file(large).value(), sha256(content));
  EXPECT_FALSE(sha256_file(dir + "/sha256_absent").has_value());
  std::remove(small.c_str());
  std::remove(large.c_str());
}

}  // namespace
}  // namespace vytal
