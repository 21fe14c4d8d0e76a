// A minimal blocking HTTP/1.0 GET for vytalctl to read the daemons' loopback
// endpoints (vytal-syncd's /metrics). Not a general client: no TLS, no
// redirects, the whole answer read until the server closes, bounded in size
// and time.
#pragma once

#include <string>

#include "common/result.h"

namespace vytal {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// Error code "unreachable" (connect failed or timed out) or "bad_answer".
Result<HttpAnswer> http_get(const std::string& host, int port, const std::string& path, int timeout_ms);

// The value of one series in a Prometheus text page ("name" or
// "name{label=\"v\"}"), nullopt when absent.
std::optional<double> prometheus_value(const std::string& page, const std::string& series);

}  // namespace vytal
