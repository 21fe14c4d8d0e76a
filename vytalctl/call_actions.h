// vytalctl's action on a live call, through signald's local channel
// (VYTAL_SIGNALD_CONTROL_SOCKET, POST /internal/calls/{id}/end), registered
// in commands.cc:
//
//   call end ID --reason TEXT
//
// signald ends the call for everyone and writes the audit record (actor
// shell_actor(), "cli:<user>"; the reason as detail) in the same commit.
// Exit status: 0 ended; 1 signald refused it or does not answer; 2 a usage
// mistake (no reason).
#pragma once

#include <cstdint>

#include "common/config.h"
#include "vytalctl/commands.h"

namespace vytal {

int end_call(const Config& config, const CommandOptions& options, int64_t now_s);

}  // namespace vytal
