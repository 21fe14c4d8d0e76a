#include "common/turn_credentials.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crypto.h"

namespace vytal {
namespace {

struct TurnVector {
  const char* name;
  const char* secret;
  const char* user;
  int64_t now_s;
  int64_t ttl_s;
  const char* username;
  const char* credential;
};

class TurnCredentialTest : public ::testing::TestWithParam<TurnVector> {};

TEST_P(TurnCredentialTest, MatchesCoturnRestApi) {
  const TurnVector& t = GetParam();
  TurnCredential c = mint_turn_credential(t.secret, t.user, t.now_s, t.ttl_s);
  EXPECT_EQ(c.username, t.username);
  EXPECT_EQ(c.credential, t.credential);
  EXPECT_EQ(c.expires_at_s, t.now_s + t.ttl_s);
}

// Expected credentials computed independently with Python's standard library:
//   python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(
//     b'north',b'1700000600:alice',hashlib.sha1).digest()).decode())"
// and the same with b'1700086400:nurse-7'.
INSTANTIATE_TEST_SUITE_P(KnownVectors, TurnCredentialTest,
                         ::testing::Values(TurnVector{"ten_minutes", "north", "alice", 1700000000, 600,
                                                      "1700000600:alice", "gthUwOpcRoLI0MMCziCEBOWYnpo="},
                                           TurnVector{"one_day", "north", "nurse-7", 1700000000, 86400,
                                                      "1700086400:nurse-7", "6ibBw1f78xRPemS3eDdtaAvo/4o="}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TurnCredentialTest, CredentialIsStandardBase64OfHmacSha1) {
  TurnCredential c = mint_turn_credential("s3cret", "prov-1", 1800000000, 3600);
  EXPECT_EQ(c.username, "1800003600:prov-1");
  EXPECT_EQ(c.credential.size(), 28u) << "20 bytes of HMAC-SHA1, padded base64";
  EXPECT_EQ(c.credential, base64_encode(hmac_sha1("s3cret", "1800003600:prov-1")));
}

TEST(TurnCredentialTest, SecretAndUserChangeTheCredential) {
  TurnCredential a = mint_turn_credential("north", "alice", 1700000000, 600);
  EXPECT_NE(a.credential, mint_turn_credential("south", "alice", 1700000000, 600).credential);
  EXPECT_NE(a.credential, mint_turn_credential("north", "bob", 1700000000, 600).credential);
  EXPECT_NE(a.credential, mint_turn_credential("north", "alice", 1700000001, 600).credential);
}

}  // namespace
}  // namespace vytal
