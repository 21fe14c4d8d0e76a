#include "turn_policy/relay_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace vytal {
namespace {

struct DeniedRange {
  const char* range;
  const char* why;
};

// Peers no relay may reach unless allowed (IANA special-purpose registries).
// Not denied as a range: "::" (coturn 4.6.1 then blocks every peer; it
// refuses the unspecified address by itself).
constexpr DeniedRange kDenied[] = {
    {"0.0.0.0-0.255.255.255", "\"this network\", the unspecified address"},
    {"10.0.0.0-10.255.255.255", "private (RFC 1918)"},
    {"100.64.0.0-100.127.255.255", "shared address space (carrier NAT)"},
    {"127.0.0.0-127.255.255.255", "loopback"},
    {"169.254.0.0-169.254.255.255", "link-local, cloud metadata (169.254.169.254)"},
    {"172.16.0.0-172.31.255.255", "private (RFC 1918)"},
    {"192.0.0.0-192.0.0.255", "IETF protocol assignments"},
    {"192.168.0.0-192.168.255.255", "private (RFC 1918)"},
    {"198.18.0.0-198.19.255.255", "benchmarking"},
    {"224.0.0.0-255.255.255.255", "multicast, reserved and broadcast"},
    {"::1", "IPv6 loopback"},
    {"::ffff:0.0.0.0-::ffff:255.255.255.255", "IPv4-mapped (judged as IPv4 too, patch 0002)"},
    // IPv4-compatible ::a.b.c.d (also patch 0002), in four ranges: coturn
    // compares byte by byte, and a range from "::" would match every IPv4
    // peer on 4.6.1.
    {"::1.0.0.0-::255.255.255.255", "IPv4-compatible"},
    {"::0.1.0.0-::0.255.255.255", "IPv4-compatible"},
    {"::0.0.1.0-::0.0.255.255", "IPv4-compatible"},
    {"::0.0.0.2-::0.0.0.255", "IPv4-compatible"},
    {"::ffff:0:0.0.0.0-::ffff:0:255.255.255.255", "SIIT (IPv4-translated)"},
    {"64:ff9b::-64:ff9b::ffff:ffff", "NAT64 to any IPv4 address"},
    {"64:ff9b:1::-64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "NAT64, local use"},
    {"fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "IPv6 unique local"},
    {"fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "IPv6 link-local"},
    {"fec0::-feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "IPv6 site-local (deprecated, still routed by some)"},
    {"ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "IPv6 multicast"},
};

// The 6to4 range (2002:aabb:ccdd::/48) embedding an IPv4 range.
std::string six_to_four(const PeerRange& v4) {
  const unsigned char *lo = v4.first.bytes, *hi = v4.last.bytes;
  char out[96];
  std::snprintf(out, sizeof out, "2002:%02x%02x:%02x%02x::-2002:%02x%02x:%02x%02x:ffff:ffff:ffff:ffff:ffff", lo[0],
                lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]);
  return out;
}

int compare(const PeerAddress& a, const PeerAddress& b) {
  return std::memcmp(a.bytes, b.bytes, a.family == AF_INET ? 4 : 16);
}

bool same(const PeerAddress& a, const PeerAddress& b) { return a.family == b.family && compare(a, b) == 0; }

// The IPv4 address an IPv6 peer delivers to (patch 0002's peer_embedded_ipv4):
// IPv4-mapped, SIIT, NAT64 64:ff9b::/96, IPv4-compatible (not :: or ::1),
// and 6to4 2002:aabb:ccdd::/48.
std::optional<PeerAddress> embedded_ipv4(const PeerAddress& a) {
  if (a.family != AF_INET6) return std::nullopt;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char siit[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const unsigned char compat[12] = {};
  const unsigned char* b = a.bytes;
  const unsigned char* v4 = nullptr;
  if (!std::memcmp(b, mapped, 12) || !std::memcmp(b, siit, 12) || !std::memcmp(b, nat64, 12))
    v4 = b + 12;
  else if (!std::memcmp(b, compat, 12) && (b[12] || b[13] || b[14] || b[15] > 1))
    v4 = b + 12;
  else if (b[0] == 0x20 && b[1] == 0x02)
    v4 = b + 2;
  if (!v4) return std::nullopt;
  PeerAddress out;
  out.family = AF_INET;
  std::memcpy(out.bytes, v4, 4);
  return out;
}

// good_peer_addr() of coturn 4.6.1 with patch 0002, in its order.
PeerVerdict judge_address(const RelayPolicy& p, const PeerAddress& a) {
  if (auto v4 = embedded_ipv4(a)) {
    PeerVerdict inner = judge_address(p, *v4);
    if (!inner.relayed)
      return {false, inner.rule, "embeds the IPv4 address " + v4->text() + ", which is refused: " + inner.reason};
  }
  const unsigned char* b = a.bytes;
  static const unsigned char nat64_local[6] = {0, 0x64, 0xff, 0x9b, 0, 1};
  if (a.family == AF_INET6 && ((b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || !std::memcmp(b, nat64_local, 6)))
    return {false, "vytal-turnserver's code (patch 0002)",
            "IPv6 site-local fec0::/10 or local-use NAT64 64:ff9b:1::/48, refused whatever the configuration"};
  bool multicast = a.family == AF_INET ? b[0] > 223 : b[0] == 0xff;
  if (p.no_multicast_peers && multicast) return {false, "no-multicast-peers", "multicast or reserved address"};
  bool loopback =
      a.family == AF_INET ? b[0] == 127 : b[15] == 1 && std::all_of(b, b + 15, [](unsigned char c) { return c == 0; });
  if (!p.allow_loopback_peers && loopback)
    return {false, "loopback (allow-loopback-peers is off)", "loopback address, refused by coturn itself"};
  if (std::all_of(b, b + (a.family == AF_INET ? 4 : 16), [](unsigned char c) { return c == 0; }))
    return {false, "unspecified address", "the unspecified address, refused by coturn itself"};
  // coturn walks both lists from the last entry; an allowed range wins.
  for (auto it = p.allowed.rbegin(); it != p.allowed.rend(); ++it)
    if (it->contains(a)) return {true, "allowed-peer-ip=" + it->text, it->why};
  for (auto it = p.denied.rbegin(); it != p.denied.rend(); ++it)
    if (it->contains(a)) return {false, "denied-peer-ip=" + it->text, it->why};
  return {true, "no rule matches", "not in any denied range: relayed"};
}

// Patch 0010's ioa_engine_peer_port_allowed(): a relay address (or the
// external address that stands for one) is a peer on the relay ports only.
bool port_refused(const RelayPolicy& p, const PeerAddress& a, int port) {
  if (!p.relay_peers_on_relay_ports || (port >= p.min_port && port <= p.max_port)) return false;
  if (p.allow_loopback_peers && (a.family == AF_INET ? a.bytes[0] == 127 : false)) return false;
  PeerAddress addr = a;
  if (p.external_address && same(a, *p.external_address))
    for (const PeerAddress& r : p.relay_addresses)
      if (r.family == a.family) {
        addr = r;
        break;
      }
  return std::any_of(p.relay_addresses.begin(), p.relay_addresses.end(),
                     [&](const PeerAddress& r) { return same(r, addr); });
}

}  // namespace

std::string PeerAddress::text() const {
  char out[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, bytes, out, sizeof out);
  return out;
}

std::optional<PeerAddress> parse_peer_address(std::string_view text) {
  std::string s(text);
  PeerAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes) == 1)
    a.family = AF_INET;
  else if (inet_pton(AF_INET6, s.c_str(), a.bytes) == 1)
    a.family = AF_INET6;
  else
    return std::nullopt;
  return a;
}

bool PeerRange::contains(const PeerAddress& a) const {
  return a.family == first.family && compare(first, a) <= 0 && compare(a, last) <= 0;
}

std::optional<PeerRange> parse_peer_range(std::string_view text, std::string why) {
  size_t dash = text.find('-');
  auto first = parse_peer_address(text.substr(0, dash));
  auto last = dash == std::string_view::npos ? first : parse_peer_address(text.substr(dash + 1));
  if (!first || !last || first->family != last->family || compare(*first, *last) > 0) return std::nullopt;
  return PeerRange{std::string(text), *first, *last, std::move(why)};
}

RelayPolicy read_relay_policy(const Config& c) {
  RelayPolicy p;
  for (const DeniedRange& d : kDenied) p.denied.push_back(*parse_peer_range(d.range, d.why));
  for (const DeniedRange& d : kDenied) {  // 6to4 embedding a denied IPv4 range
    PeerRange r = *parse_peer_range(d.range, d.why);
    if (r.first.family == AF_INET)
      p.denied.push_back(*parse_peer_range(six_to_four(r), std::string("6to4 of ") + d.why));
  }
  auto relays = c.list("VYTAL_TURN_RELAY_IPS");
  if (relays.empty()) throw ConfigError("VYTAL_TURN_RELAY_IPS: required: the appliance's relay address(es)");
  for (const std::string& ip : relays) {
    auto a = parse_peer_address(ip);
    if (!a) throw ConfigError("VYTAL_TURN_RELAY_IPS: '" + ip + "' is not an IP address");
    p.relay_addresses.push_back(*a);
    p.allowed.push_back(*parse_peer_range(ip, "the appliance's relay address (on the relay ports only)"));
  }
  for (const std::string& range : c.list("VYTAL_TURN_ALLOWED_PEER_RANGES")) {
    auto r = parse_peer_range(range, "allowed by an admin (VYTAL_TURN_ALLOWED_PEER_RANGES)");
    if (!r)
      throw ConfigError("VYTAL_TURN_ALLOWED_PEER_RANGES: '" + range +
                        "' is not an address or a range first-last of one family, such as 10.20.0.0-10.20.255.255");
    p.allowed.push_back(*r);
  }
  if (c.is_set("VYTAL_TURN_EXTERNAL_IP")) {
    auto external = parse_peer_address(c.str("VYTAL_TURN_EXTERNAL_IP"));
    if (!external) throw ConfigError("VYTAL_TURN_EXTERNAL_IP: not an IP address");
    if (std::none_of(p.relay_addresses.begin(), p.relay_addresses.end(),
                     [&](const PeerAddress& r) { return r.family == external->family; }))
      throw ConfigError("VYTAL_TURN_EXTERNAL_IP: no relay address of the same family in VYTAL_TURN_RELAY_IPS");
    p.external_address = *external;
  }
  p.min_port = static_cast<int>(c.integer("VYTAL_TURN_MIN_PORT", 1024, 65535));
  p.max_port = static_cast<int>(c.integer("VYTAL_TURN_MAX_PORT", 1024, 65535));
  if (p.max_port < p.min_port) throw ConfigError("VYTAL_TURN_MAX_PORT: below VYTAL_TURN_MIN_PORT");
  return p;
}

std::optional<PeerVerdict> check_peer(const RelayPolicy& p, std::string_view peer, std::optional<int> port) {
  auto a = parse_peer_address(peer);
  if (!a) return std::nullopt;
  PeerVerdict v = judge_address(p, *a);
  if (!v.relayed || !port) return v;
  auto v4 = embedded_ipv4(*a);
  if (port_refused(p, *a, *port) || (v4 && port_refused(p, *v4, *port)))
    return PeerVerdict{false, "relay-peers-on-relay-ports",
                       "one of the appliance's relay addresses on port " + std::to_string(*port) +
                           ", outside the relay ports " + std::to_string(p.min_port) + "-" +
                           std::to_string(p.max_port) + " (its own services)"};
  return v;
}

}  // namespace vytal
