// The ICE server list handed to browsers (RTCConfiguration.iceServers), with
// TURN REST credentials minted for the user. Shared by GET /webrtc/ice-servers
// and the signaling messages joined / ice-servers.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/handles.h"
#include "signald/signald_config.h"

namespace vytal {

// {"iceServers":[...], "ttlSeconds": n|null, "expiresAt": "..."|null}
JsonPtr ice_servers_json(const IceSettings& ice, std::string_view user_id, int64_t now_s);

}  // namespace vytal
