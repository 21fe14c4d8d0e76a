// vytalctl apply-requests: the privileged half of the admin page's
// "rotate now" and settings (admin_ui/apply_spool.h), run by
// vytal-apply.service when vytal-admin leaves a request. Every request is
// validated again here with the same code as the page and the services'
// start-up; nothing in a request names a file, a command or a unit.
#pragma once

#include <cstdint>
#include <string>

#include "common/key_ring.h"
#include "vytalctl/commands.h"

namespace vytal {

// Replaces the key ring's current secret with a new random one; the old one
// stays accepted until now_s + overlap_s (vytalctl rotate-turn-secret too).
bool rotate_key_ring_file(const std::string& path, int64_t overlap_s, int64_t now_s, KeyRing* ring, std::string* error);

int apply_requests(const Config& config, const CommandOptions& options, int64_t now_s);

}  // namespace vytal
