#include "signald/signald_config.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/common/config_support.h"

namespace vytal {
namespace {

using testing_support::config_error;
using testing_support::FakeEnv;
using testing_support::parse;
using testing_support::starts_with;

// --- read_signald_settings ---------------------------------------------------

TEST(SignaldSettingsTest, DefaultsAreValid) {
  SignaldSettings s = read_signald_settings(parse(""));
  EXPECT_EQ(s.http.port, 3000);
  EXPECT_EQ(s.http.bind_address, "127.0.0.1");
  EXPECT_EQ(s.call_log.db_path, "/var/lib/vytalwatch/calls.db");
  EXPECT_EQ(s.call_log.max_batch, 512);
  EXPECT_EQ(s.call_log.max_participants, 6);
  EXPECT_EQ(s.jwt.algorithm, JwtAlgorithm::hs256);
  EXPECT_EQ(s.jwt.leeway_s, 30);
  EXPECT_EQ(s.ice.ttl_s, 600);
  EXPECT_TRUE(s.allowed_origins.empty());
}

TEST(SignaldSettingsTest, ReadsAFullConfiguration) {
  SignaldSettings s =
      read_signald_settings(parse("PORT=8443\n"
                                  "VYTAL_DATA_DIR=/srv/vytal\n"
                                  "VYTAL_GROUP_COMMIT=false\n"
                                  "FRONTEND_URL=https://portal.example/, http://localhost:5173\n"
                                  "WEBRTC_STUN_SERVERS=stun:stun.example:3478, stuns:stun.example:5349\n"
                                  "WEBRTC_TURN_SERVERS=turn:turn.example:3478?transport=udp, turns:turn.example:5349\n"
                                  "TURN_SHARED_SECRET=north\n"
                                  "TURN_CREDENTIAL_TTL_SECONDS=3600\n"
                                  "JWT_SECRET=s3cret\n"
                                  "JWT_AUDIENCE=vytal\n"));
  EXPECT_EQ(s.http.port, 8443);
  EXPECT_EQ(s.call_log.db_path, "/srv/vytal/calls.db");
  EXPECT_EQ(s.call_log.max_batch, 1) << "group commit off means one write per transaction";
  EXPECT_EQ(s.allowed_origins, (std::vector<std::string>{"https://portal.example", "http://localhost:5173"}));
  EXPECT_EQ(s.ice.stun_urls.size(), 2u);
  EXPECT_EQ(s.ice.turn_urls.size(), 2u);
  EXPECT_EQ(s.ice.turn_secret, "north");
  EXPECT_EQ(s.ice.ttl_s, 3600);
  EXPECT_EQ(s.jwt.secret, "s3cret");
  EXPECT_EQ(s.jwt.audience, "vytal");
}

TEST(SignaldSettingsTest, StaticTurnCredentialsReplaceTheSharedSecret) {
  SignaldSettings s = read_signald_settings(
      parse("WEBRTC_TURN_SERVERS=turn:turn.example:3478\nWEBRTC_TURN_USERNAME=user\nWEBRTC_TURN_PASSWORD=pass\n"));
  EXPECT_EQ(s.ice.static_username, "user");
  EXPECT_EQ(s.ice.static_password, "pass");
}

TEST(SignaldSettingsTest, IceUrlsWithValidPortsAndForms) {
  SignaldSettings s = read_signald_settings(
      parse("WEBRTC_STUN_SERVERS=stun:stun.example, stun:[2001:db8::1]:3478\n"
            "WEBRTC_TURN_SERVERS=turn:192.0.2.1:65535?transport=tcp, turns:turn.example:443?transport=tcp, "
            "turn:[::1]:1\n"
            "TURN_SHARED_SECRET=x\n"));
  EXPECT_EQ(s.ice.stun_urls.size(), 2u);
  EXPECT_EQ(s.ice.turn_urls.size(), 3u);
}

TEST(SignaldSettingsTest, ShortJwtSecretWarnsUnlessRefused) {
  EXPECT_TRUE(read_signald_settings(parse("JWT_SECRET=0123456789abcdef0123456789abcde\n")).weak_jwt_secret)
      << "31 bytes";
  EXPECT_FALSE(read_signald_settings(parse("JWT_SECRET=0123456789abcdef0123456789abcdef\n")).weak_jwt_secret)
      << "32 bytes";
  EXPECT_FALSE(read_signald_settings(
                   parse("JWT_SECRET=0123456789abcdef0123456789abcdef\nVYTAL_REQUIRE_STRONG_JWT_SECRET=true\n"))
                   .weak_jwt_secret);
}

struct BadSetting {
  const char* name;
  const char* text;
  const char* key;  // what() must start with "<key>:"
};

class SignaldSettingsBadTest : public ::testing::TestWithParam<BadSetting> {};

TEST_P(SignaldSettingsBadTest, ThrowsNamingTheKey) {
  const BadSetting& t = GetParam();
  std::string message = config_error([&] { read_signald_settings(parse(t.text)); });
  ASSERT_FALSE(message.empty()) << "accepted: " << t.text;
  EXPECT_TRUE(starts_with(message, std::string(t.key) + ":")) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Rejections, SignaldSettingsBadTest,
    ::testing::Values(
        BadSetting{"port_not_a_number", "PORT=http\n", "PORT"}, BadSetting{"port_too_large", "PORT=65536\n", "PORT"},
        BadSetting{"port_negative", "PORT=-1\n", "PORT"},
        BadSetting{"jwt_algorithm_hs512", "JWT_ALGORITHM=HS512\n", "JWT_ALGORITHM"},
        BadSetting{"jwt_algorithm_none", "JWT_ALGORITHM=none\n", "JWT_ALGORITHM"},
        BadSetting{"turn_servers_without_secret", "WEBRTC_TURN_SERVERS=turn:turn.example:3478\n", "TURN_SHARED_SECRET"},
        BadSetting{"turn_servers_with_username_only",
                   "WEBRTC_TURN_SERVERS=turn:turn.example:3478\nWEBRTC_TURN_USERNAME=u\n", "TURN_SHARED_SECRET"},
        BadSetting{"frontend_url_ftp", "FRONTEND_URL=ftp://portal.example\n", "FRONTEND_URL"},
        BadSetting{"frontend_url_bare_host", "FRONTEND_URL=https://ok.example, portal.example\n", "FRONTEND_URL"},
        BadSetting{"stun_entry_is_turn", "WEBRTC_STUN_SERVERS=turn:turn.example:3478\n", "WEBRTC_STUN_SERVERS"},
        BadSetting{"stun_second_entry_http", "WEBRTC_STUN_SERVERS=stun:a.example, http://b.example\n",
                   "WEBRTC_STUN_SERVERS"},
        BadSetting{"stun_scheme_only", "WEBRTC_STUN_SERVERS=stun:\n", "WEBRTC_STUN_SERVERS"},
        BadSetting{"turn_entry_is_stun", "WEBRTC_TURN_SERVERS=stun:a.example\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"leeway_too_large", "JWT_LEEWAY_SECONDS=301\n", "JWT_LEEWAY_SECONDS"},
        BadSetting{"ttl_too_short", "TURN_CREDENTIAL_TTL_SECONDS=59\n", "TURN_CREDENTIAL_TTL_SECONDS"},
        BadSetting{"max_participants_one", "VYTAL_MAX_PARTICIPANTS=1\n", "VYTAL_MAX_PARTICIPANTS"},
        BadSetting{"log_level_verbose", "LOG_LEVEL=verbose\n", "LOG_LEVEL"},
        BadSetting{"empty_data_dir", "VYTAL_DATA_DIR=\n", "VYTAL_DATA_DIR"},
        BadSetting{"group_commit_not_boolean", "VYTAL_GROUP_COMMIT=sometimes\n", "VYTAL_GROUP_COMMIT"},
        BadSetting{"rs256_without_key_file", "JWT_ALGORITHM=RS256\n", "JWT_PUBLIC_KEY_FILE"},
        // Ports and forms of ICE server URLs (RFC 7064, RFC 7065).
        BadSetting{"turn_port_99999", "WEBRTC_TURN_SERVERS=turn:127.0.0.1:99999\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turn_port_zero", "WEBRTC_TURN_SERVERS=turn:turn.example:0\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turn_port_empty", "WEBRTC_TURN_SERVERS=turn:turn.example:\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turn_port_huge", "WEBRTC_TURN_SERVERS=turn:turn.example:4294967297\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turns_port_letters", "WEBRTC_TURN_SERVERS=turns:turn.example:443x\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turn_transport_sctp",
                   "WEBRTC_TURN_SERVERS=turn:turn.example:3478?transport=sctp\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turn_host_with_path", "WEBRTC_TURN_SERVERS=turn:turn.example/x:3478\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turn_ipv6_unclosed", "WEBRTC_TURN_SERVERS=turn:[::1:3478\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"turn_ipv6_port_too_large", "WEBRTC_TURN_SERVERS=turn:[::1]:65536\nTURN_SHARED_SECRET=x\n",
                   "WEBRTC_TURN_SERVERS"},
        BadSetting{"stun_port_too_large", "WEBRTC_STUN_SERVERS=stun:stun.example:70000\n", "WEBRTC_STUN_SERVERS"},
        BadSetting{"stun_with_transport", "WEBRTC_STUN_SERVERS=stun:stun.example:3478?transport=udp\n",
                   "WEBRTC_STUN_SERVERS"},
        // A short HS256 secret is refused when the package's check is on.
        BadSetting{"jwt_secret_short_when_required", "JWT_SECRET=short\nVYTAL_REQUIRE_STRONG_JWT_SECRET=true\n",
                   "JWT_SECRET"},
        BadSetting{"require_strong_not_boolean", "JWT_SECRET=short\nVYTAL_REQUIRE_STRONG_JWT_SECRET=maybe\n",
                   "VYTAL_REQUIRE_STRONG_JWT_SECRET"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vytal
