// The ICE server list handed to browsers (RTCConfiguration.iceServers), with
// TURN REST credentials minted for the user. Shared by GET /webrtc/ice-servers
// and the signaling messages joined / ice-servers.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/handles.h"
#include "signald/signald_config.h"

namespace vytal {

// {"iceServers":[...], "ttlSeconds": n|null, "expiresAt": "..."|null}.
// secret: the current TURN secret (TurnLink::current_secret); empty falls
// back to the static WEBRTC_TURN_USERNAME/PASSWORD. turn_user goes after the
// expiry in the username ("<user id>" or "<user id>@<call id>").
JsonPtr ice_servers_json(const IceSettings& ice, const std::string& secret, std::string_view turn_user, int64_t now_s);

}  // namespace vytal
