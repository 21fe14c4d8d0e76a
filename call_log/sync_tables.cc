#include "call_log/sync_tables.h"

namespace vytal {
namespace {

using T = ColumnType;

// Every synchronized row also has version (guards the upsert) and updated_at.
constexpr SyncColumn kCalls[] = {
    {"id", T::uuid},
    {"patient_id", T::text},
    {"provider_id", T::text},
    {"appointment_id", T::text},
    {"type", T::text},
    {"status", T::text},
    {"scheduled_at", T::time_ms},
    {"started_at", T::time_ms},
    {"ended_at", T::time_ms},
    {"duration_ms", T::integer},
    {"end_reason", T::text},
    {"created_by", T::text},
    {"created_at", T::time_ms},
    {"updated_at", T::time_ms},
    {"version", T::integer},
};
constexpr SyncColumn kParticipants[] = {
    {"id", T::uuid},
    {"call_id", T::uuid},
    {"user_id", T::text},
    {"role", T::text},
    {"status", T::text},
    {"invited_by", T::text},
    {"joined_at", T::time_ms},
    {"left_at", T::time_ms},
    {"duration_ms", T::integer},
    {"created_at", T::time_ms},
    {"updated_at", T::time_ms},
    {"version", T::integer},
};
constexpr SyncColumn kRecordings[] = {
    {"id", T::uuid},
    {"call_id", T::uuid},
    {"status", T::text},
    {"storage_key", T::text},
    {"size_bytes", T::integer},
    {"duration_ms", T::integer},
    {"started_at", T::time_ms},
    {"ended_at", T::time_ms},
    {"created_at", T::time_ms},
    {"updated_at", T::time_ms},
    {"version", T::integer},
};
constexpr SyncColumn kEvents[] = {
    {"id", T::uuid},         {"call_id", T::uuid},        {"type", T::text},          {"actor_id", T::text},
    {"detail", T::json},     {"occurred_at", T::time_ms}, {"created_at", T::time_ms}, {"updated_at", T::time_ms},
    {"version", T::integer},
};
constexpr SyncColumn kAudit[] = {
    {"id", T::uuid},     {"occurred_at", T::time_ms}, {"actor_id", T::text},      {"actor_role", T::text},
    {"action", T::text}, {"outcome", T::text},        {"call_id", T::uuid},       {"remote_addr", T::text},
    {"detail", T::json}, {"created_at", T::time_ms},  {"updated_at", T::time_ms}, {"version", T::integer},
};
constexpr SyncColumn kQuality[] = {
    {"id", T::uuid},
    {"call_id", T::uuid},
    {"user_id", T::text},
    {"rtt_ms", T::integer},
    {"jitter_ms", T::integer},
    {"packet_loss_permille", T::integer},
    {"bitrate_kbps", T::integer},
    {"sampled_at", T::time_ms},
    {"created_at", T::time_ms},
    {"updated_at", T::time_ms},
    {"version", T::integer},
};

constexpr SyncColumn kTurnUsage[] = {
    {"id", T::uuid},
    {"call_id", T::uuid},
    {"user_id", T::text},
    {"turn_username", T::text},
    {"relay_address", T::text},
    {"transport", T::text},
    {"state", T::text},
    {"started_at", T::time_ms},
    {"ended_at", T::time_ms},
    {"bytes_sent", T::integer},
    {"bytes_received", T::integer},
    {"packets_sent", T::integer},
    {"packets_received", T::integer},
    {"created_at", T::time_ms},
    {"updated_at", T::time_ms},
    {"version", T::integer},
};

constexpr SyncTable kTables[] = {
    {"calls", kCalls},
    {"call_participants", kParticipants},
    {"call_recordings", kRecordings},
    {"call_events", kEvents},
    {"audit_log", kAudit},
    {"call_quality_samples", kQuality},
    {"turn_usage", kTurnUsage},
};

}  // namespace

std::span<const SyncTable> sync_tables() { return kTables; }

const char* pg_type(ColumnType type) {
  switch (type) {
    case T::text: return "text";
    case T::integer: return "bigint";
    case T::time_ms: return "timestamptz";
    case T::uuid: return "uuid";
    case T::json: return "jsonb";
  }
  return "text";
}

}  // namespace vytal
