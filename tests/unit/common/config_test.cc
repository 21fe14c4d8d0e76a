#include "common/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "tests/unit/common/config_support.h"

namespace vytal {
namespace {

using testing_support::config_error;
using testing_support::FakeEnv;
using testing_support::parse;
using testing_support::starts_with;

TEST(ConfigTest, EveryKeyStartsAtItsDefault) {
  Config c = parse("");
  for (const ConfigKey& k : config_keys()) EXPECT_EQ(c.str(k.name), k.default_value) << k.name;
  EXPECT_EQ(c.integer("PORT", 0, 65535), 3000);
  EXPECT_TRUE(c.boolean("VYTAL_GROUP_COMMIT"));
  EXPECT_EQ(c.integer("VYTAL_MAX_PARTICIPANTS", 2, 64), 6);
  EXPECT_FALSE(c.is_set("FRONTEND_URL"));
  EXPECT_TRUE(c.is_set("VYTAL_DATA_DIR"));
}

TEST(ConfigTest, FileValuesReplaceDefaults) {
  Config c = parse("PORT = 8080\nLOG_LEVEL=debug\nJWT_SECRET=abc==\n");
  EXPECT_EQ(c.str("PORT"), "8080");
  EXPECT_EQ(c.str("LOG_LEVEL"), "debug");
  EXPECT_EQ(c.str("JWT_SECRET"), "abc==") << "the value is everything after the first '='";
  EXPECT_EQ(c.str("VYTAL_BIND_ADDRESS"), "127.0.0.1") << "keys the file does not set keep their default";
}

TEST(ConfigTest, EnvironmentOverridesFile) {
  FakeEnv env{{"PORT", "9090"}, {"JWT_ISSUER", "  https://auth.example  "}, {"NOT_A_KEY", "x"}};
  Config c = parse("PORT=8080\nLOG_LEVEL=warn\n", env);
  EXPECT_EQ(c.str("PORT"), "9090");
  EXPECT_EQ(c.str("LOG_LEVEL"), "warn");
  EXPECT_EQ(c.str("JWT_ISSUER"), "https://auth.example") << "environment values are trimmed";
}

// vytalctl copies values into the TURN server's configuration, one per line:
// a line break would add a directive of the environment's choosing (found by
// tests/fuzz/config_fuzz).
TEST(ConfigTest, EnvironmentValueWithALineBreakNamesTheKey) {
  std::string message = config_error([] { parse("", FakeEnv{{"VYTAL_TURN_REALM", "vytal\nallow-loopback-peers"}}); });
  EXPECT_TRUE(starts_with(message, "VYTAL_TURN_REALM:")) << message;
  EXPECT_EQ(parse("", FakeEnv{{"VYTAL_TURN_REALM", "vytal\r\n"}}).str("VYTAL_TURN_REALM"), "vytal")
      << "a trailing line ending is trimmed, not refused";
}

TEST(ConfigTest, EnvironmentCanClearAFileValue) {
  Config c = parse("FRONTEND_URL=https://portal.example\n", FakeEnv{{"FRONTEND_URL", ""}});
  EXPECT_FALSE(c.is_set("FRONTEND_URL"));
}

TEST(ConfigTest, CommentsBlankLinesAndQuotes) {
  Config c = parse(
      "# a comment\n"
      "\n"
      "   \t \n"
      "   # an indented comment, PORT=1\n"
      "JWT_SECRET = \"a secret # with spaces\"  \r\n"
      "JWT_ISSUER=\"\"\n"
      "JWT_AUDIENCE = \"half-quoted\n"
      "LOG_LEVEL=error\r\n");
  EXPECT_EQ(c.str("JWT_SECRET"), "a secret # with spaces");
  EXPECT_EQ(c.str("JWT_ISSUER"), "");
  EXPECT_EQ(c.str("JWT_AUDIENCE"), "\"half-quoted") << "only a value quoted at both ends is unquoted";
  EXPECT_EQ(c.str("LOG_LEVEL"), "error") << "CRLF line endings";
  EXPECT_EQ(c.str("PORT"), "3000") << "a commented-out key is not read";
}

struct BadFile {
  const char* name;
  const char* text;
  const char* message_prefix;
  const char* message_contains;
};

class ConfigBadFileTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(ConfigBadFileTest, ThrowsNamingTheKeyAndLine) {
  const BadFile& t = GetParam();
  std::string message = config_error([&] { parse(t.text); });
  ASSERT_FALSE(message.empty()) << "no ConfigError for: " << t.text;
  EXPECT_TRUE(starts_with(message, t.message_prefix)) << message;
  EXPECT_NE(message.find(t.message_contains), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Rejections, ConfigBadFileTest,
    ::testing::Values(BadFile{"unknown_key", "PORT=1\nPORTT=2\n", "PORTT:", "test.conf:2"},
                      BadFile{"lower_case_key", "port=1\n", "port:", "test.conf:1"},
                      BadFile{"duplicate_key", "PORT=1\nLOG_LEVEL=info\nPORT = 2\n", "PORT:", "test.conf:3"},
                      BadFile{"duplicate_key_same_value", "JWT_SECRET=a\nJWT_SECRET=a\n", "JWT_SECRET:", "twice"},
                      BadFile{"line_without_equals", "PORT=1\nLOG_LEVEL debug\n", "test.conf:2", "KEY = value"}),
    [](const auto& info) { return std::string(info.param.name); });

struct IntegerCase {
  const char* name;
  const char* value;
  int64_t min;
  int64_t max;
  std::optional<int64_t> expected;  // nullopt: must throw naming the key
};

class ConfigIntegerTest : public ::testing::TestWithParam<IntegerCase> {};

TEST_P(ConfigIntegerTest, ParsesOrNamesTheKey) {
  const IntegerCase& t = GetParam();
  Config c = parse("", FakeEnv{{"VYTAL_MAX_BODY_BYTES", t.value}});
  if (t.expected) {
    EXPECT_EQ(c.integer("VYTAL_MAX_BODY_BYTES", t.min, t.max), *t.expected);
    return;
  }
  std::string message = config_error([&] { c.integer("VYTAL_MAX_BODY_BYTES", t.min, t.max); });
  ASSERT_FALSE(message.empty()) << "'" << t.value << "' was accepted";
  EXPECT_TRUE(starts_with(message, "VYTAL_MAX_BODY_BYTES:")) << message;
  EXPECT_NE(message.find(std::string("'") + t.value + "'"), std::string::npos) << "quotes the bad value: " << message;
}

INSTANTIATE_TEST_SUITE_P(
    Values, ConfigIntegerTest,
    ::testing::Values(
        IntegerCase{"plain", "65536", 1024, 1 << 20, 65536}, IntegerCase{"at_min", "1024", 1024, 2048, 1024},
        IntegerCase{"at_max", "2048", 1024, 2048, 2048}, IntegerCase{"negative_in_range", "-5", -10, 10, -5},
        IntegerCase{"below_min", "1023", 1024, 2048, std::nullopt},
        IntegerCase{"above_max", "2049", 1024, 2048, std::nullopt}, IntegerCase{"negative", "-1", 0, 10, std::nullopt},
        IntegerCase{"trailing_letters", "64k", 0, 1 << 20, std::nullopt},
        IntegerCase{"hex", "0x400", 0, 1 << 20, std::nullopt}, IntegerCase{"decimal_point", "1.5", 0, 10, std::nullopt},
        IntegerCase{"words", "lots", 0, 10, std::nullopt}, IntegerCase{"empty", "", 0, 10, std::nullopt},
        IntegerCase{"overflows_int64", "99999999999999999999", 0, INT64_MAX, std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

struct BooleanCase {
  const char* value;
  std::optional<bool> expected;
};

class ConfigBooleanTest : public ::testing::TestWithParam<BooleanCase> {};

TEST_P(ConfigBooleanTest, ParsesOrNamesTheKey) {
  const BooleanCase& t = GetParam();
  Config c = parse(std::string("VYTAL_GROUP_COMMIT=") + t.value + "\n");
  if (t.expected) {
    EXPECT_EQ(c.boolean("VYTAL_GROUP_COMMIT"), *t.expected) << t.value;
    return;
  }
  std::string message = config_error([&] { c.boolean("VYTAL_GROUP_COMMIT"); });
  EXPECT_TRUE(starts_with(message, "VYTAL_GROUP_COMMIT:")) << "'" << t.value << "': " << message;
}

INSTANTIATE_TEST_SUITE_P(Values, ConfigBooleanTest,
                         ::testing::Values(BooleanCase{"true", true}, BooleanCase{"1", true}, BooleanCase{"yes", true},
                                           BooleanCase{"on", true}, BooleanCase{"false", false},
                                           BooleanCase{"0", false}, BooleanCase{"no", false}, BooleanCase{"off", false},
                                           BooleanCase{"maybe", std::nullopt}, BooleanCase{"2", std::nullopt},
                                           BooleanCase{"", std::nullopt}));

// The package runs the daemons with two files: its appliance.conf, then the
// site.conf made at install (secrets, addresses). The later file wins, the
// environment wins over both, and each file is checked on its own.
TEST(ConfigTest, LaterFilesOverrideEarlierOnes) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("vytal-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "appliance.conf") << "PORT = 3000\nLOG_LEVEL = info\n";
  std::ofstream(dir / "site.conf") << "PORT = 3100\nJWT_SECRET = from-site\n";
  std::ofstream(dir / "typo.conf") << "JWT_SECRT = x\n";
  std::vector<std::string> both = {(dir / "appliance.conf").string(), (dir / "site.conf").string()};

  Config c = Config::load(both, FakeEnv().lookup());
  EXPECT_EQ(c.str("PORT"), "3100");
  EXPECT_EQ(c.str("LOG_LEVEL"), "info");
  EXPECT_EQ(c.str("JWT_SECRET"), "from-site");
  EXPECT_EQ(Config::load(both, FakeEnv{{"PORT", "4000"}}.lookup()).str("PORT"), "4000");

  std::string typo = config_error([&] { Config::load({both[0], (dir / "typo.conf").string()}, FakeEnv().lookup()); });
  EXPECT_NE(typo.find("JWT_SECRT: unknown configuration key"), std::string::npos) << typo;
  EXPECT_NE(typo.find("typo.conf:1"), std::string::npos) << typo;
  std::string missing = config_error([&] { Config::load({(dir / "absent.conf").string()}, FakeEnv().lookup()); });
  EXPECT_NE(missing.find("absent.conf: No such file or directory"), std::string::npos) << missing;
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, ListTrimsAndDropsEmptyItems) {
  Config c = parse("WEBRTC_STUN_SERVERS = stun:a.example:3478 , ,stun:b.example,,\tstun:c.example \n");
  EXPECT_EQ(c.list("WEBRTC_STUN_SERVERS"),
            (std::vector<std::string>{"stun:a.example:3478", "stun:b.example", "stun:c.example"}));
  EXPECT_TRUE(c.list("WEBRTC_TURN_SERVERS").empty());
  EXPECT_TRUE(parse("FRONTEND_URL= , ,\n").list("FRONTEND_URL").empty());
  EXPECT_EQ(parse("FRONTEND_URL=https://one.example\n").list("FRONTEND_URL"),
            std::vector<std::string>{"https://one.example"});
}

// --- documentation -----------------------------------------------------------

std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("VYTAL_SOURCE_DIR")) return dir;
  // Run outside ctest: this file sits in <source>/tests/unit/common/.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

bool is_key_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// True when `key` occurs in `text` as a whole name, not as part of a longer
// one (VYTAL_MAX_CONNECTIONS inside VYTAL_MAX_CONNECTIONS_PER_IP does not count).
bool mentions_key(const std::string& text, const std::string& key) {
  for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 1)) {
    bool before_ok = pos == 0 || !is_key_char(text[pos - 1]);
    size_t end = pos + key.size();
    bool after_ok = end == text.size() || !is_key_char(text[end]);
    if (before_ok && after_ok) return true;
  }
  return false;
}

TEST(ConfigDocsTest, EveryKeyIsDocumentedInConfigMd) {
  std::filesystem::path path = source_dir() / "docs" / "CONFIG.md";
  std::ifstream f(path);
  ASSERT_TRUE(f) << path << " cannot be read";
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  for (const ConfigKey& k : config_keys())
    EXPECT_TRUE(mentions_key(text, k.name)) << k.name << " is missing from " << path;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Documents that cannot drift: every key the code knows is a row of
// docs/CONFIG.md's table and an entry of vytalwatch.conf(5), each with the
// code's default, and neither documents a key the code does not know.
TEST(ConfigDocsTest, EveryKeyHasTheCodesDefaultInConfigMdAndTheManPage) {
  std::map<std::string, std::string> code;
  for (const ConfigKey& k : config_keys()) code[k.name] = k.default_value;

  // "| `KEY` | `default` | meaning |", "(empty)" for no default.
  std::map<std::string, std::string> md;
  std::string config_md = read_text(source_dir() / "docs" / "CONFIG.md");
  std::regex row(R"(\n\| `([A-Z0-9_]+)` \| (?:`([^`]*)`|\(empty\)) \|)");
  for (std::sregex_iterator it(config_md.begin(), config_md.end(), row), end; it != end; ++it) md[(*it)[1]] = (*it)[2];

  // ".TP\n.B KEY\nDefault: \fBvalue\fR." or "Default: empty."; troff's \- is a hyphen.
  std::map<std::string, std::string> man;
  std::string page = read_text(source_dir() / "packaging" / "man" / "vytalwatch.conf.5");
  std::regex entry(R"(\.TP\n\.B ([A-Z0-9_]+)\nDefault: (?:\\fB(.*?)\\fR|empty)\.)");
  for (std::sregex_iterator it(page.begin(), page.end(), entry), end; it != end; ++it)
    man[(*it)[1]] = std::regex_replace((*it)[2].str(), std::regex(R"(\\-)"), "-");

  for (const auto& [key, value] : code) {
    ASSERT_TRUE(md.count(key)) << key << " has no row in docs/CONFIG.md's table";
    EXPECT_EQ(md[key], value) << key << ": docs/CONFIG.md's default differs from the code's";
    ASSERT_TRUE(man.count(key)) << key << " has no entry in packaging/man/vytalwatch.conf.5";
    EXPECT_EQ(man[key], value) << key << ": vytalwatch.conf(5)'s default differs from the code's";
  }
  for (const auto& [key, value] : md) EXPECT_TRUE(code.count(key)) << "docs/CONFIG.md documents unknown key " << key;
  for (const auto& [key, value] : man)
    EXPECT_TRUE(code.count(key)) << "vytalwatch.conf(5) documents unknown key " << key;
}

}  // namespace
}  // namespace vytal
