// The call log's schema as numbered migrations. Every synchronized table
// carries id (UUID), created_at/updated_at (Unix ms), version (bumped on each
// change) and change_seq (a per-database sequence syncd follows).
#pragma once

#include <span>

#include "common/sqlite.h"

namespace vytal {

std::span<const Migration> call_log_migrations();

// The highest change_seq the call log has handed out: in the synchronized
// tables and in vytal-syncd's records (retention may have pruned every row
// at or below syncd's mark; numbers must never be reused below it). Aborts
// with a message when the call log cannot tell, as a failed prepare does.
int64_t last_change_seq(sqlite3* db);

}  // namespace vytal
