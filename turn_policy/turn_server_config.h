// The configuration of vytal-turnserver, generated from the appliance's
// settings (vytalctl turn-config) with safe relay defaults: no relaying to
// loopback, link-local (cloud metadata included), multicast, unspecified,
// private or shared ranges, in IPv4, IPv6 and the IPv6 forms embedding IPv4,
// except the appliance's own relay addresses (on the relay ports only) and
// what an admin allows; no TCP relay; per-user and total quotas; TLS 1.2 and
// later only; no CLI; no anonymous use (REST credentials checked by the
// plugin, none living longer than signald mints them). The peers come from
// turn_policy/relay_policy.h.
#pragma once

#include <string>

#include "common/config.h"

namespace vytal {

// Throws ConfigError naming the key on a bad value.
std::string turn_server_config(const Config& config);

}  // namespace vytal
