// The central PostgreSQL schema vytal-syncd writes to, as numbered
// migrations applied under an advisory lock, so that several appliances
// starting at once apply each migration exactly once.
#pragma once

#include "syncd/pg_session.h"

namespace vytal {

// Applies the migrations the database does not have yet; returns how many ran.
Result<int> apply_central_migrations(PgSession& pg);

}  // namespace vytal
