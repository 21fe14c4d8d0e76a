// ISO 8601 / RFC 3339 timestamps as the platform's JSON carries them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vytal {

// "2026-11-24T03:52:28.123Z"
std::string format_timestamp(int64_t unix_ms);
// Accepts YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM] (RFC 3339); the zone is required.
std::optional<int64_t> parse_timestamp(std::string_view text);

}  // namespace vytal
