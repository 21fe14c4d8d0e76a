#include "common/turn_credentials.h"

#include "common/crypto.h"

namespace vytal {

TurnCredential mint_turn_credential(std::string_view secret, std::string_view user_id, int64_t now_s, int64_t ttl_s) {
  TurnCredential c;
  c.expires_at_s = now_s + ttl_s;
  c.username = std::to_string(c.expires_at_s) + ":" + std::string(user_id);
  c.credential = base64_encode(hmac_sha1(secret, c.username));
  return c;
}

}  // namespace vytal
