#include "turn_policy/relay_policy.h"

#include <gtest/gtest.h>

#include "turn_policy/turn_server_config.h"

namespace vytal {
namespace {

Config config(const std::string& extra = "") {
  return Config::from_text(
      "VYTAL_TURN_KEYRING_FILE = /k\nVYTAL_TURN_RELAY_IPS = 198.51.100.7,2001:db8::7\n"
      "VYTAL_TURN_MIN_PORT = 40000\nVYTAL_TURN_MAX_PORT = 40100\n" +
          extra,
      "test", [](const char*) { return nullptr; });
}

PeerVerdict check(const RelayPolicy& p, const char* peer, std::optional<int> port = std::nullopt) {
  auto v = check_peer(p, peer, port);
  EXPECT_TRUE(v.has_value()) << peer;
  return v.value_or(PeerVerdict{});
}

TEST(RelayPolicy, NamesTheRuleThatDecides) {
  RelayPolicy p = read_relay_policy(config("VYTAL_TURN_ALLOWED_PEER_RANGES = 10.20.0.0-10.20.255.255\n"));
  EXPECT_EQ(check(p, "10.0.0.5").rule, "denied-peer-ip=10.0.0.0-10.255.255.255");
  EXPECT_FALSE(check(p, "10.0.0.5").relayed);
  EXPECT_EQ(check(p, "10.20.1.1").rule, "allowed-peer-ip=10.20.0.0-10.20.255.255");
  EXPECT_TRUE(check(p, "10.20.1.1").relayed);
  EXPECT_EQ(check(p, "203.0.113.9").rule, "no rule matches");
  EXPECT_TRUE(check(p, "203.0.113.9").relayed);
  EXPECT_EQ(check(p, "127.0.0.1").rule, "loopback (allow-loopback-peers is off)");
  EXPECT_EQ(check(p, "224.0.0.1").rule, "no-multicast-peers");
  EXPECT_EQ(check(p, "fec0::1").rule, "vytal-turnserver's code (patch 0002)");
  EXPECT_EQ(check(p, "0.0.0.0").rule, "unspecified address");
}

TEST(RelayPolicy, IPv6FormsEmbeddingIPv4AreJudgedAsIPv4Too) {
  RelayPolicy p = read_relay_policy(config("VYTAL_TURN_ALLOWED_PEER_RANGES = 10.20.0.0-10.20.255.255\n"));
  for (const char* peer :
       {"::ffff:127.0.0.1", "::127.0.0.1", "::ffff:0:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1"}) {
    PeerVerdict v = check(p, peer);
    EXPECT_FALSE(v.relayed) << peer;
    EXPECT_NE(v.reason.find("embeds the IPv4 address 127.0.0.1"), std::string::npos) << peer << ": " << v.reason;
  }
  // An allowed IPv4 range does not open its IPv4-mapped form: the mapped range is denied.
  EXPECT_EQ(check(p, "::ffff:10.20.1.1").rule, "denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255");
  EXPECT_EQ(check(p, "::ffff:198.51.100.7").rule, "denied-peer-ip=::ffff:0.0.0.0-::ffff:255.255.255.255");
  // 6to4 of a public address stays relayed; :: and ::1 are not IPv4-compatible.
  EXPECT_TRUE(check(p, "2002:cb00:7109::1").relayed);
  EXPECT_EQ(check(p, "::1").rule, "loopback (allow-loopback-peers is off)");
}

TEST(RelayPolicy, RelayAddressesArePeersOnTheRelayPortsOnly) {
  RelayPolicy p = read_relay_policy(config("VYTAL_TURN_EXTERNAL_IP = 203.0.113.10\n"));
  EXPECT_TRUE(check(p, "198.51.100.7").relayed);
  EXPECT_TRUE(check(p, "198.51.100.7", 40000).relayed);
  EXPECT_TRUE(check(p, "198.51.100.7", 40100).relayed);
  EXPECT_EQ(check(p, "198.51.100.7", 22).rule, "relay-peers-on-relay-ports");
  EXPECT_EQ(check(p, "198.51.100.7", 40101).rule, "relay-peers-on-relay-ports");
  EXPECT_EQ(check(p, "2001:db8::7", 3478).rule, "relay-peers-on-relay-ports");
  // The external address stands for the relay address of its family.
  EXPECT_EQ(check(p, "203.0.113.10", 22).rule, "relay-peers-on-relay-ports");
  EXPECT_TRUE(check(p, "203.0.113.10", 40050).relayed);
  // Other addresses: any port.
  EXPECT_TRUE(check(p, "198.51.100.8", 22).relayed);
}

TEST(RelayPolicy, BadInputIsRefusedNamingTheKey) {
  EXPECT_FALSE(check_peer(read_relay_policy(config()), "10.0.0.300").has_value());
  EXPECT_FALSE(check_peer(read_relay_policy(config()), "").has_value());
  auto fails = [](const std::string& extra, const char* key) {
    try {
      read_relay_policy(config(extra));
      ADD_FAILURE() << extra;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(key, 0), 0u) << e.what();
    }
  };
  fails("VYTAL_TURN_ALLOWED_PEER_RANGES = 10.9.0.0-10.8.0.0\n", "VYTAL_TURN_ALLOWED_PEER_RANGES:");
  fails("VYTAL_TURN_ALLOWED_PEER_RANGES = 10.0.0.0-2001:db8::1\n", "VYTAL_TURN_ALLOWED_PEER_RANGES:");
  fails("VYTAL_TURN_ALLOWED_PEER_RANGES = 10.0.0.0/8\n", "VYTAL_TURN_ALLOWED_PEER_RANGES:");
  fails("VYTAL_TURN_EXTERNAL_IP = nat.example\n", "VYTAL_TURN_EXTERNAL_IP:");
}

// The generated configuration lists exactly the policy's ranges, in its order.
TEST(RelayPolicy, TheGeneratedConfigurationWritesThePolicysRanges) {
  Config c = config("VYTAL_TURN_ALLOWED_PEER_RANGES = 10.20.0.0-10.20.255.255\n");
  RelayPolicy p = read_relay_policy(c);
  std::string expected;
  for (const PeerRange& r : p.denied) expected += "denied-peer-ip=" + r.text + "\n";
  for (const PeerRange& r : p.allowed) expected += "allowed-peer-ip=" + r.text + "\n";
  std::string generated = turn_server_config(c), lines;
  size_t at = 0;
  while (at < generated.size()) {
    size_t end = generated.find('\n', at);
    std::string line = generated.substr(at, end - at + 1);
    if (line.rfind("denied-peer-ip=", 0) == 0 || line.rfind("allowed-peer-ip=", 0) == 0) lines += line;
    at = end + 1;
  }
  EXPECT_EQ(lines, expected);
  EXPECT_NE(generated.find("relay-peers-on-relay-ports\n"), std::string::npos);
  EXPECT_NE(generated.find("no-multicast-peers\n"), std::string::npos);
  EXPECT_EQ(generated.find("allow-loopback-peers"), std::string::npos);
}

}  // namespace
}  // namespace vytal
