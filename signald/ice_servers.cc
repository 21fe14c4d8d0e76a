#include "signald/ice_servers.h"

#include <optional>

#include "common/json.h"
#include "common/time_format.h"
#include "common/turn_credentials.h"

namespace vytal {
namespace {

json_t* url_list(const std::vector<std::string>& urls) {
  json_t* a = json_array();
  for (const std::string& u : urls) json_array_append_new(a, json_str(u));
  return a;
}

}  // namespace

JsonPtr ice_servers_json(const IceSettings& ice, const std::string& secret, std::string_view turn_user, int64_t now_s) {
  JsonPtr out(json_object());
  json_t* servers = json_array();
  if (!ice.stun_urls.empty()) {
    json_t* s = json_object();
    json_put(s, "urls", url_list(ice.stun_urls));
    json_array_append_new(servers, s);
  }
  std::optional<int64_t> expires;
  if (!ice.turn_urls.empty()) {
    json_t* s = json_object();
    json_put(s, "urls", url_list(ice.turn_urls));
    if (!secret.empty()) {
      TurnCredential c = mint_turn_credential(secret, turn_user, now_s, ice.ttl_s);
      json_put(s, "username", json_str(c.username));
      json_put(s, "credential", json_str(c.credential));
      expires = c.expires_at_s;
    } else {
      json_put(s, "username", json_str(ice.static_username));
      json_put(s, "credential", json_str(ice.static_password));
    }
    json_array_append_new(servers, s);
  }
  json_put(out.get(), "iceServers", servers);
  json_put(out.get(), "ttlSeconds", expires ? json_integer(ice.ttl_s) : nullptr);
  json_put(out.get(), "expiresAt", expires ? json_str(format_timestamp(*expires * 1000)) : nullptr);
  return out;
}

}  // namespace vytal
