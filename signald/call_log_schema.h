// The call log's schema as numbered migrations. Every synchronized table
// carries id (UUID), created_at/updated_at (Unix ms), version (bumped on each
// change) and change_seq (a per-database sequence syncd follows).
#pragma once

#include <span>

#include "common/sqlite.h"

namespace vytal {

std::span<const Migration> call_log_migrations();

}  // namespace vytal
