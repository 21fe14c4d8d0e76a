// Who may open signaling: the WebSocket handshake of GET /webrtc/ws checked
// before any 101 is sent (RFC 6455 section 4.2.1), the page's Origin against
// the allowed ones (cross-site WebSocket hijacking), and the JWT, taken from
// the subprotocol list ("vytal.v1, bearer.<jwt>": browsers cannot set
// headers on a WebSocket) or an Authorization header.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/jwt.h"
#include "http/http_server.h"

namespace vytal {

struct Admission {
  JwtClaims claims;
  std::string websocket_key;
  std::string protocol;  // the subprotocol to confirm ("vytal.v1"), or empty
};

// A refusal: the HTTP status, the error code (also the metric's reason) and
// the headers the answer carries.
struct Refusal {
  int status;
  std::string code;
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Either an Admission or the Refusal to answer with.
struct AdmissionResult {
  std::optional<Admission> admitted;
  Refusal refusal;
};

AdmissionResult admit(const HttpRequest& request, const std::vector<std::string>& allowed_origins,
                      const JwtVerifier& jwt, const Clock& clock);

}  // namespace vytal
