// TURN REST API credentials (draft-uberti-behave-turn-rest-00, as coturn's
// use-auth-secret implements it): username = "<expiry unix seconds>:<user id>",
// password = base64(HMAC-SHA1(shared secret, username)).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vytal {

struct TurnCredential {
  std::string username;
  std::string credential;
  int64_t expires_at_s = 0;
};

TurnCredential mint_turn_credential(std::string_view secret, std::string_view user_id, int64_t now_s, int64_t ttl_s);

}  // namespace vytal
