#include "admin_ui/appliance_settings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vytal {
namespace {

// appliance.conf, site.conf and the settings file in a temporary directory,
// as the units pass them.
class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vytal-settings-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write("keyring", "current unit-test-turn-secret\n");
    write("appliance.conf",
          "VYTAL_TURN_KEYRING_FILE = " + dir_ + "/keyring\nJWT_SECRET = unit-test-secret-0123456789abcdef-xyz\n");
    write("site.conf", "VYTAL_TURN_RELAY_IPS = 198.51.100.7\nLOG_LEVEL = warn\n");
    write("settings.conf", "# empty\n");
    files_ = {dir_ + "/appliance.conf", dir_ + "/site.conf", dir_ + "/settings.conf"};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ + "/" + name) << text; }
  Result<SettingsProposal> propose(
      const std::map<std::string, std::optional<std::string>>& changes,
      EnvLookup env = [](const char*) { return nullptr; }) {
    return propose_settings(files_, dir_ + "/settings.conf", changes, env);
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(SettingsTest, AGoodChangeIsADiffWithTheUnitsToRestart) {
  auto p = propose({{"VYTAL_TURN_USER_QUOTA", "7"}, {"LOG_LEVEL", "debug"}});
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->changes.size(), 2u);
  EXPECT_EQ(p->changes[0].key, "VYTAL_TURN_USER_QUOTA");
  EXPECT_EQ(p->changes[0].before, "12");  // the default
  EXPECT_EQ(p->changes[0].after, "7");
  EXPECT_EQ(p->changes[1].key, "LOG_LEVEL");
  EXPECT_EQ(p->changes[1].before, "warn");  // site.conf's
  EXPECT_EQ(p->restarts, (std::vector<std::string>{"vytal-turnserver.service", "vytal-signald.service",
                                                   "vytal-syncd.service", "vytal-admin.service"}));
  std::string text = format_settings_file(p->file_after, "note");
  auto back = parse_settings_file(text, "x");
  ASSERT_TRUE(back);
  EXPECT_EQ(back.value(), p->file_after);
}

TEST_F(SettingsTest, ABadValueIsRefusedNamingTheSetting) {
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"VYTAL_TURN_USER_QUOTA", "lots"},
           {"VYTAL_TURN_RELAY_IPS", "relay.example"},
           {"VYTAL_TURN_ALLOWED_PEER_RANGES", "10.0.0.0/8"},
           {"FRONTEND_URL", "ftp://clinic.example"},
           {"WEBRTC_TURN_SERVERS", "http://turn.example"},
           {"LOG_LEVEL", "chatty"},
           {"VYTAL_TURN_EXTERNAL_IP", "2001:db8::1"},  // no IPv6 relay address
       }) {
    auto p = propose({{key, value}});
    ASSERT_FALSE(p) << key;
    EXPECT_EQ(p.error().code, "invalid_setting") << key;
    EXPECT_EQ(config_error_key(p.error().message), key) << p.error().message;
  }
  auto multi = propose({{"VYTAL_TURN_REALM", "a\nJWT_SECRET = x"}});
  ASSERT_FALSE(multi);
  EXPECT_EQ(config_error_key(multi.error().message), "VYTAL_TURN_REALM");
  auto other = propose({{"JWT_SECRET", "x"}});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, "not_editable");
}

TEST_F(SettingsTest, NullDropsAKeyAndTheEnvironmentCannotBeOverridden) {
  write("settings.conf", "VYTAL_TURN_USER_QUOTA = 7\n");
  auto p = propose({{"VYTAL_TURN_USER_QUOTA", std::nullopt}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->file_after.empty());
  ASSERT_EQ(p->changes.size(), 1u);
  EXPECT_EQ(p->changes[0].after, "12");
  auto env =
      propose({{"LOG_LEVEL", "debug"}}, [](const char* k) { return std::string(k) == "LOG_LEVEL" ? "info" : nullptr; });
  ASSERT_FALSE(env);
  EXPECT_EQ(config_error_key(env.error().message), "LOG_LEVEL");
}

TEST_F(SettingsTest, TheSettingsFileHoldsOnlyEditableKeys) {
  EXPECT_FALSE(parse_settings_file("JWT_SECRET = x\n", "f"));
  EXPECT_FALSE(parse_settings_file("garbage\n", "f"));
  auto ok = parse_settings_file("# c\nLOG_LEVEL = \"debug\"\n", "f");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value().at("LOG_LEVEL"), "debug");
}

}  // namespace
}  // namespace vytal
