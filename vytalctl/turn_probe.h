// A minimal, blocking STUN/TURN client over UDP for `vytalctl doctor`: a
// Binding request (RFC 8489: does the TURN port answer?) and a real TURN
// allocation (RFC 8656: Allocate, challenged with 401, repeated with the long-
// term credential's MESSAGE-INTEGRITY, HMAC-SHA1 through OpenSSL; then freed
// at once with a Refresh of lifetime 0). Each request is retransmitted a few
// times and the whole exchange is bounded by the timeout.
#pragma once

#include <string>

#include "common/result.h"

namespace vytal {

struct TurnProbeTarget {
  std::string host;  // an IP address (IPv4 or IPv6)
  int port = 3478;
  int timeout_ms = 1500;  // for each request, retransmissions included
};

// The server's reflexive address for us ("127.0.0.1:40000"). Error code
// "no_answer" when nothing answers.
Result<std::string> stun_binding(const TurnProbeTarget& target);

struct TurnAllocation {
  std::string relayed_address;  // XOR-RELAYED-ADDRESS, "203.0.113.10:49160"
  std::string realm;
  bool freed = false;  // the Refresh with lifetime 0 was answered with success
};

// Error codes: "no_answer" (nothing answers), "refused" (an error response:
// the message holds its code and reason, e.g. "401 Unauthorized"), "malformed"
// (an answer that is not the STUN we expect).
Result<TurnAllocation> turn_allocate(const TurnProbeTarget& target, const std::string& username,
                                     const std::string& password);

}  // namespace vytal
