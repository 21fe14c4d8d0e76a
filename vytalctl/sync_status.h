// `vytalctl sync status`: vytal-syncd's progress as its loopback /metrics
// says (connected, backlog, lag, last success, parked rows, errors) beside
// the call log's own record of it (the local copy of PostgreSQL's mark, rows
// above it, parked rows), read-only. Exit status 1 when syncd does not
// answer, is not connected, or rows are parked: something needs attention.
#pragma once

#include <cstdint>

#include "common/config.h"
#include "vytalctl/commands.h"

namespace vytal {

int sync_status(const Config& config, const CommandOptions& options, int64_t now_s);

}  // namespace vytal
