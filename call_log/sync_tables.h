// The tables vytal-syncd copies from the SQLite call log to the central
// PostgreSQL, with their columns and how each crosses over. The column names
// are the same on both sides; PostgreSQL adds site_id and synced_at.
#pragma once

#include <span>

namespace vytal {

enum class ColumnType {
  text,
  integer,
  time_ms,  // SQLite: Unix milliseconds; PostgreSQL: timestamptz
  uuid,     // SQLite: text; PostgreSQL: uuid
  json,     // SQLite: text; PostgreSQL: jsonb
};

struct SyncColumn {
  const char* name;
  ColumnType type;
};

struct SyncTable {
  const char* name;
  std::span<const SyncColumn> columns;  // the first is id, the key
};

// In dependency order: a batch writes calls before the rows that refer to them.
std::span<const SyncTable> sync_tables();

// The PostgreSQL type a column is cast to.
const char* pg_type(ColumnType type);

}  // namespace vytal
