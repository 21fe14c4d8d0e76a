#include "vytalctl/turn_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "common/crypto.h"

namespace vytal {
namespace {

constexpr uint32_t kMagicCookie = 0x2112A442;  // RFC 8489 5

// Message types (RFC 8489 5, RFC 8656 17): request, success, error.
constexpr uint16_t kBindingRequest = 0x0001, kBindingSuccess = 0x0101;
constexpr uint16_t kAllocateRequest = 0x0003, kAllocateSuccess = 0x0103, kAllocateError = 0x0113;
constexpr uint16_t kRefreshRequest = 0x0004, kRefreshSuccess = 0x0104;

// Attributes.
constexpr uint16_t kUsername = 0x0006, kMessageIntegrity = 0x0008, kErrorCode = 0x0009, kLifetime = 0x000D,
                   kRealm = 0x0014, kNonce = 0x0015, kXorRelayedAddress = 0x0016, kRequestedTransport = 0x0019,
                   kXorMappedAddress = 0x0020;

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}
void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v & 0xFFFF));
}
uint16_t get16(const std::string& in, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(in[at]) << 8) | static_cast<uint8_t>(in[at + 1]));
}
uint32_t get32(const std::string& in, size_t at) {
  return (static_cast<uint32_t>(get16(in, at)) << 16) | get16(in, at + 2);
}

// A STUN message being built: header, then attributes (each padded to 4 bytes).
class StunMessage {
 public:
  explicit StunMessage(uint16_t type) : id_(random_bytes(12)) {
    put16(bytes_, type);
    put16(bytes_, 0);
    put32(bytes_, kMagicCookie);
    bytes_ += id_;
  }
  void add(uint16_t type, const std::string& value) {
    put16(bytes_, type);
    put16(bytes_, static_cast<uint16_t>(value.size()));
    bytes_ += value;
    while (bytes_.size() % 4) bytes_.push_back('\0');
    set_length();
  }
  // MESSAGE-INTEGRITY (RFC 8489 14.5): HMAC-SHA1 over the message so far,
  // its length field already counting the integrity attribute.
  void sign(const std::string& key) {
    uint16_t length = static_cast<uint16_t>(bytes_.size() - 20 + 24);
    bytes_[2] = static_cast<char>(length >> 8);
    bytes_[3] = static_cast<char>(length & 0xFF);
    add(kMessageIntegrity, hmac_sha1(key, bytes_));
  }
  const std::string& bytes() const { return bytes_; }
  const std::string& id() const { return id_; }

 private:
  void set_length() {
    uint16_t length = static_cast<uint16_t>(bytes_.size() - 20);
    bytes_[2] = static_cast<char>(length >> 8);
    bytes_[3] = static_cast<char>(length & 0xFF);
  }
  std::string bytes_;
  std::string id_;
};

struct StunReply {
  uint16_t type = 0;
  std::vector<std::pair<uint16_t, std::string>> attributes;

  std::optional<std::string> find(uint16_t attribute) const {
    for (const auto& [t, v] : attributes)
      if (t == attribute) return v;
    return std::nullopt;
  }
  // "401 Unauthorized" from ERROR-CODE; empty when there is none.
  std::string error() const {
    auto e = find(kErrorCode);
    if (!e || e->size() < 4) return {};
    int code = (static_cast<uint8_t>((*e)[2]) & 0x07) * 100 + static_cast<uint8_t>((*e)[3]);
    return std::to_string(code) + (e->size() > 4 ? " " + e->substr(4) : "");
  }
  int error_code() const {
    auto e = find(kErrorCode);
    return e && e->size() >= 4 ? (static_cast<uint8_t>((*e)[2]) & 0x07) * 100 + static_cast<uint8_t>((*e)[3]) : 0;
  }
};

std::optional<StunReply> parse(const std::string& in, const std::string& id) {
  if (in.size() < 20 || (static_cast<uint8_t>(in[0]) & 0xC0) || get32(in, 4) != kMagicCookie ||
      in.compare(8, 12, id) != 0 || get16(in, 2) + 20u != in.size())
    return std::nullopt;
  StunReply r;
  r.type = get16(in, 0);
  for (size_t at = 20; at + 4 <= in.size();) {
    uint16_t type = get16(in, at), length = get16(in, at + 2);
    if (at + 4 + length > in.size()) return std::nullopt;
    r.attributes.emplace_back(type, in.substr(at + 4, length));
    at += 4 + ((length + 3u) & ~3u);
  }
  return r;
}

// An XOR-MAPPED-ADDRESS or XOR-RELAYED-ADDRESS value as "ip:port" ("[ip]:port").
std::string xor_address(const std::string& v, const std::string& id) {
  if (v.size() < 8) return "?";
  uint16_t port = get16(v, 2) ^ static_cast<uint16_t>(kMagicCookie >> 16);
  unsigned char addr[16];
  std::string pad;
  put32(pad, kMagicCookie);
  pad += id;
  size_t n = v[1] == 0x01 ? 4 : 16;
  if (v.size() < 4 + n) return "?";
  for (size_t i = 0; i < n; ++i) addr[i] = static_cast<unsigned char>(v[4 + i] ^ pad[i]);
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(n == 4 ? AF_INET : AF_INET6, addr, text, sizeof text);
  return n == 4 ? std::string(text) + ":" + std::to_string(port)
                : "[" + std::string(text) + "]:" + std::to_string(port);
}

// A connected UDP socket to the target.
class UdpSocket {
 public:
  explicit UdpSocket(const TurnProbeTarget& t) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, t.host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(t.port));
      len = sizeof *v4;
    } else if (inet_pton(AF_INET6, t.host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(t.port));
      len = sizeof *v6;
    } else {
      return;
    }
    fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~UdpSocket() {
    if (fd_ >= 0) close(fd_);
  }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  bool ok() const { return fd_ >= 0; }

  // Sends the request up to four times within timeout_ms and returns the
  // first answer carrying its transaction id.
  std::optional<StunReply> exchange(const StunMessage& m, int timeout_ms) {
    using Clock = std::chrono::steady_clock;
    auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    int wait_ms = std::max(100, timeout_ms / 4);
    while (Clock::now() < end) {
      if (send(fd_, m.bytes().data(), m.bytes().size(), 0) < 0) return std::nullopt;  // e.g. ICMP refused
      auto round_end = std::min(end, Clock::now() + std::chrono::milliseconds(wait_ms));
      for (;;) {
        int left =
            static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(round_end - Clock::now()).count());
        if (left <= 0) break;
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, left) != 1) break;
        char buf[2048];
        ssize_t n = recv(fd_, buf, sizeof buf, 0);
        if (n < 0) break;  // ECONNREFUSED: an ICMP port unreachable; try again, then give up
        if (auto r = parse(std::string(buf, static_cast<size_t>(n)), m.id())) return r;
      }
    }
    return std::nullopt;
  }

 private:
  int fd_ = -1;
};

std::string transport_udp() { return std::string("\x11\0\0\0", 4); }  // protocol 17, RFFU

Error no_answer(const TurnProbeTarget& t) {
  return Error{"no_answer", "no STUN answer from " +
                                (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) + ":" +
                                std::to_string(t.port) + " (UDP) within " + std::to_string(t.timeout_ms) + " ms"};
}

}  // namespace

Result<std::string> stun_binding(const TurnProbeTarget& target) {
  UdpSocket s(target);
  if (!s.ok()) return Error{"malformed", "not an IP address: " + target.host};
  StunMessage m(kBindingRequest);
  auto r = s.exchange(m, target.timeout_ms);
  if (!r) return no_answer(target);
  if (r->type != kBindingSuccess) return Error{"refused", "Binding answered " + r->error()};
  auto mapped = r->find(kXorMappedAddress);
  return mapped ? xor_address(*mapped, m.id()) : std::string("?");
}

Result<TurnAllocation> turn_allocate(const TurnProbeTarget& target, const std::string& username,
                                     const std::string& password) {
  UdpSocket s(target);
  if (!s.ok()) return Error{"malformed", "not an IP address: " + target.host};
  // 1. Unauthenticated: the server answers 401 with its realm and a nonce.
  StunMessage first(kAllocateRequest);
  first.add(kRequestedTransport, transport_udp());
  auto r = s.exchange(first, target.timeout_ms);
  if (!r) return no_answer(target);
  if (r->type != kAllocateError || r->error_code() != 401 || !r->find(kRealm) || !r->find(kNonce))
    return Error{"malformed", "the first Allocate was not challenged (401 with realm and nonce)" +
                                  (r->error().empty() ? std::string() : ": " + r->error())};
  TurnAllocation a;
  a.realm = *r->find(kRealm);
  std::string nonce = *r->find(kNonce);
  // The long-term credential's key (RFC 8489 9.2.2): MD5(username:realm:password).
  std::string key = md5(username + ":" + a.realm + ":" + password);
  // 2. With the credential; a stale nonce (438) is retried once with the new one.
  for (int attempt = 0;; ++attempt) {
    StunMessage m(kAllocateRequest);
    m.add(kRequestedTransport, transport_udp());
    m.add(kUsername, username);
    m.add(kRealm, a.realm);
    m.add(kNonce, nonce);
    m.sign(key);
    r = s.exchange(m, target.timeout_ms);
    if (!r) return no_answer(target);
    if (r->type == kAllocateError && r->error_code() == 438 && r->find(kNonce) && attempt == 0) {
      nonce = *r->find(kNonce);
      continue;
    }
    if (r->type != kAllocateSuccess)
      return Error{"refused", r->error().empty() ? "an unexpected answer to Allocate" : r->error()};
    auto relayed = r->find(kXorRelayedAddress);
    if (!relayed) return Error{"malformed", "the Allocate success has no XOR-RELAYED-ADDRESS"};
    a.relayed_address = xor_address(*relayed, m.id());
    if (auto n = r->find(kNonce)) nonce = *n;
    break;
  }
  // 3. Free it at once: Refresh with LIFETIME 0.
  StunMessage refresh(kRefreshRequest);
  std::string zero;
  put32(zero, 0);
  refresh.add(kLifetime, zero);
  refresh.add(kUsername, username);
  refresh.add(kRealm, a.realm);
  refresh.add(kNonce, nonce);
  refresh.sign(key);
  r = s.exchange(refresh, target.timeout_ms);
  a.freed = r && r->type == kRefreshSuccess;
  return a;
}

}  // namespace vytal
