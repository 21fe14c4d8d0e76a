// admin.db: vytal-admin's own SQLite file beside the call log (accounts,
// recovery codes, sessions, the audit outbox). Never synced: nothing in it
// leaves the appliance. Created mode 0600; WAL, synchronous=FULL.
// Shared by vytal-admin and vytalctl's admin commands (SQLite's locking).
#pragma once

#include <span>
#include <string>

#include "common/config.h"
#include "common/result.h"
#include "common/sqlite.h"

namespace vytal {

std::span<const Migration> admin_db_migrations();

// <VYTAL_DATA_DIR>/admin.db
std::string read_admin_db_path(const Config& config);

// Opens (creating with mode 0600 if needed) and brings the schema up to date.
Result<SqlitePtr> open_admin_db(const std::string& path, int64_t now_ms);

}  // namespace vytal
