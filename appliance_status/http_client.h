// A small blocking HTTP client on libcurl for the appliance's own loopback
// endpoints (signald's and syncd's /healthz and /metrics) and signald's local
// channel (a Unix socket). Bounded by a timeout; no redirects, no proxies.
// Thread-safe (each call has its own easy handle).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace vytal {

struct HttpTarget {
  std::string base_url;     // "http://127.0.0.1:3000"
  std::string unix_socket;  // when set, the connection goes there (base_url names the Host)
};

struct HttpReply {
  long status = 0;
  std::string body;
};

// Error code "unreachable" (connection refused, timeout, no such socket)
// with libcurl's message.
Result<HttpReply> http_request(const HttpTarget& target, std::string_view method, std::string_view path,
                               std::string_view json_body, long timeout_ms);

}  // namespace vytal
