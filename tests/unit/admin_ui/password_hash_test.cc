#include "admin_ui/password_hash.h"

#include <gtest/gtest.h>

namespace vytal {
namespace {

TEST(PasswordHashTest, Argon2idWithOwaspParametersVerifiesOnlyTheRightPassword) {
  std::string h = hash_password("correct horse battery");
  EXPECT_EQ(h.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << h;
  EXPECT_TRUE(verify_password(h, "correct horse battery"));
  EXPECT_FALSE(verify_password(h, "correct horse batterY"));
  EXPECT_FALSE(verify_password(h, ""));
  EXPECT_NE(hash_password("correct horse battery"), h) << "a fresh salt each time";
}

TEST(PasswordHashTest, RefusesWhatIsNotAnArgon2idHash) {
  EXPECT_FALSE(verify_password("", "x"));
  EXPECT_FALSE(verify_password("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
  EXPECT_FALSE(verify_password("plain text", "plain text"));
}

struct PolicyCase {
  std::string account;
  std::string password;
  bool ok;
};

class PasswordPolicyTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(PasswordPolicyTest, LengthAndAccountName) {
  auto r = check_password_policy(GetParam().account, GetParam().password);
  EXPECT_EQ(r.ok(), GetParam().ok) << GetParam().password;
  if (!r.ok()) {
    EXPECT_EQ(r.error().code, "weak_password");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PasswordPolicyTest,
    ::testing::Values(PolicyCase{"alice", "short pass", false}, PolicyCase{"alice", "twelve chars", true},
                      PolicyCase{"alice", "eleven char", false},
                      // Twelve characters, more bytes: counted as characters.
                      PolicyCase{"alice",
                                 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                 "\xc3\xa9\xc3\xa9",
                                 true},
                      PolicyCase{"alice", "my name is Alice!", false}, PolicyCase{"bob", "BOB-the-builder-2", false},
                      PolicyCase{"alice", std::string(129, 'x'), false},
                      PolicyCase{"alice", std::string(128, 'x'), true}),
    [](const ::testing::TestParamInfo<PolicyCase>& info) { return "case" + std::to_string(info.index); });

}  // namespace
}  // namespace vytal
