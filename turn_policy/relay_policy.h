// vytal-turnserver's relay policy: the peers a TURN client may relay to, as
// the generated configuration tells coturn and as coturn 4.6.1 with our
// patch series judges them (good_peer_addr() in ns_turn_server.c, patch 0002
// for IPv6 forms embedding IPv4, patch 0010 for the relay addresses' ports).
// vytalctl turn-config writes denied-peer-ip and allowed-peer-ip from
// `denied` and `allowed`; vytal-admin's checker answers with check_peer(),
// naming the rule that decides. Keeping both here is what makes the checker
// say what the running server does (tests/integration/turn_policy_checker
// compares them on CreatePermission and ChannelBind answers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"

namespace vytal {

// An IPv4 or IPv6 address as coturn compares it: the family and its bytes.
struct PeerAddress {
  int family = 0;  // AF_INET or AF_INET6
  unsigned char bytes[16] = {};
  std::string text() const;
};
std::optional<PeerAddress> parse_peer_address(std::string_view text);

struct PeerRange {
  std::string text;  // as written to coturn's configuration: "a-b" or "a"
  PeerAddress first, last;
  std::string why;  // what the range is ("loopback", "an admin-allowed range")
  bool contains(const PeerAddress& a) const;
};
// nullopt when `text` is not "a", "a-b" of one family with a <= b.
std::optional<PeerRange> parse_peer_range(std::string_view text, std::string why);

struct RelayPolicy {
  std::vector<PeerRange> denied;   // denied-peer-ip, in the configuration's order
  std::vector<PeerRange> allowed;  // allowed-peer-ip: the relay addresses, then the admin's ranges
  std::vector<PeerAddress> relay_addresses;
  std::optional<PeerAddress> external_address;  // external-ip: stands for the relay address of its family
  int min_port = 49152, max_port = 65535;
  bool no_multicast_peers = true;          // always written
  bool allow_loopback_peers = false;       // never written (test configurations only)
  bool relay_peers_on_relay_ports = true;  // always written (patch 0010)
};

// The policy the configuration asks for. Throws ConfigError naming the key
// (VYTAL_TURN_RELAY_IPS, VYTAL_TURN_EXTERNAL_IP, VYTAL_TURN_ALLOWED_PEER_RANGES,
// VYTAL_TURN_MIN_PORT, VYTAL_TURN_MAX_PORT) on a bad value.
RelayPolicy read_relay_policy(const Config& config);

struct PeerVerdict {
  bool relayed = false;
  std::string rule;    // the rule that decides, e.g. "denied-peer-ip=10.0.0.0-10.255.255.255"
  std::string reason;  // in words, e.g. "private (RFC 1918)"
};

// Would the TURN server relay to `peer` (CreatePermission, and with a port
// ChannelBind and Send)? nullopt when `peer` is not an IP address.
std::optional<PeerVerdict> check_peer(const RelayPolicy& policy, std::string_view peer,
                                      std::optional<int> port = std::nullopt);

}  // namespace vytal
