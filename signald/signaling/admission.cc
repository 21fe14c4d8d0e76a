#include "signald/signaling/admission.h"

#include <strings.h>

#include <cctype>

namespace vytal {
namespace {

// A browser always sends Origin; a page from another site must not drive a
// user's signaling (cross-site WebSocket hijacking). The page signald serves
// itself is same-origin.
bool origin_allowed(const std::vector<std::string>& allowed, const std::string& origin, const std::string* host) {
  for (const std::string& a : allowed)
    if (origin == a) return true;
  return host && (origin == "http://" + *host || origin == "https://" + *host);
}

// Sec-WebSocket-Key: base64 of 16 bytes (RFC 6455 section 4.1).
bool valid_websocket_key(const std::string& key) {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i) {
    char c = key[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  }
  return true;
}

AdmissionResult refuse(int status, std::string code, std::string message,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  return {std::nullopt, Refusal{status, std::move(code), std::move(message), std::move(headers)}};
}

}  // namespace

AdmissionResult admit(const HttpRequest& req, const std::vector<std::string>& allowed_origins, const JwtVerifier& jwt,
                      const Clock& clock) {
  const std::string* upgrade = req.header("upgrade");
  if (req.method != HTTP_GET || !req.upgrade || !upgrade || strcasecmp(upgrade->c_str(), "websocket") != 0)
    return refuse(426, "websocket_required", "this endpoint takes a WebSocket upgrade", {{"Upgrade", "websocket"}});
  if (const std::string* origin = req.header("origin");
      origin && !origin_allowed(allowed_origins, *origin, req.header("host")))
    return refuse(403, "origin_not_allowed", "this origin may not open signaling connections");
  const std::string* version = req.header("sec-websocket-version");
  if (!version || *version != "13")
    return refuse(426, "websocket_version", "WebSocket version 13 is required", {{"Sec-WebSocket-Version", "13"}});
  const std::string* key = req.header("sec-websocket-key");
  if (!key || !valid_websocket_key(*key))
    return refuse(400, "websocket_key", "Sec-WebSocket-Key is missing or malformed");

  std::string token;
  bool offered_v1 = false, offered_any = false;
  if (const std::string* protocols = req.header("sec-websocket-protocol")) {
    std::string_view rest = *protocols;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      offered_any = offered_any || !item.empty();
      if (item == "vytal.v1") offered_v1 = true;
      if (item.size() > 7 && item.substr(0, 7) == "bearer.") token = std::string(item.substr(7));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (offered_any && !offered_v1) return refuse(400, "websocket_protocol", "offer the vytal.v1 subprotocol");
  }
  if (token.empty()) {
    if (const std::string* auth = req.header("authorization");
        auth && auth->size() > 7 && strncasecmp(auth->c_str(), "Bearer ", 7) == 0)
      token = auth->substr(7);
  }
  if (token.empty()) return refuse(401, "token_missing", "a token is required to open signaling");
  auto claims = jwt.verify(token, clock.now_s());
  if (!claims) return refuse(401, claims.error().code, claims.error().message);
  return {Admission{std::move(claims.value()), *key, offered_v1 ? "vytal.v1" : ""}, {}};
}

}  // namespace vytal
