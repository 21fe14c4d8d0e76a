// vytalctl's read-only views of the call log: `calls` (the newest calls, or
// those in progress) and `call show ID` (one call's participants, timeline,
// quality and TURN usage). They open VYTAL_DATA_DIR/calls.db read-only
// (query_only; WAL lets them read while signald writes) and change nothing.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "vytalctl/commands.h"

namespace vytal {

int list_calls(const Config& config, const CommandOptions& options, int64_t now_s);
int show_call(const Config& config, const CommandOptions& options, int64_t now_s);

// "850 ms", "12.3 s", "4m05s", "1h02m03s".
std::string format_duration_ms(int64_t ms);

}  // namespace vytal
