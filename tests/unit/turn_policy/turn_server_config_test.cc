// The TURN server configuration vytalctl generates: the plugin's paths reach
// its plugin-config intact or are refused (found by tests/fuzz/config_fuzz).
#include "turn_policy/turn_server_config.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/common/config_support.h"

namespace vytal {
namespace {

using testing_support::config_error;
using testing_support::FakeEnv;
using testing_support::parse;

constexpr char kBase[] = "VYTAL_TURN_RELAY_IPS = 192.0.2.10\nVYTAL_TURN_KEYRING_FILE = /etc/vytalwatch/turn.keyring\n";

TEST(TurnConfigTest, PluginConfigCarriesThePaths) {
  std::string conf = turn_server_config(
      parse(std::string(kBase) + "VYTAL_TURN_REVOKED_FILE = /run/vytal/revoked\nVYTAL_TURN_USAGE_SOCKET = /run/u\n"));
  EXPECT_NE(
      conf.find(
          "\nplugin-config=keyring=/etc/vytalwatch/turn.keyring;revoked=/run/vytal/revoked;usage=/run/u;max_ttl=660\n"),
      std::string::npos)
      << conf;
}

class TurnConfigPathTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TurnConfigPathTest, APathWithASemicolonIsRefused) {
  std::string key = GetParam();
  std::string message = config_error([&] {
    turn_server_config(parse(kBase, FakeEnv{{key, "/etc/vytalwatch/x;revoked=/dev/null"}}));
  });
  EXPECT_EQ(message.rfind(key + ":", 0), 0u) << message;
}

INSTANTIATE_TEST_SUITE_P(Keys, TurnConfigPathTest,
                         ::testing::Values("VYTAL_TURN_KEYRING_FILE", "VYTAL_TURN_REVOKED_FILE",
                                           "VYTAL_TURN_USAGE_SOCKET"));

}  // namespace
}  // namespace vytal
