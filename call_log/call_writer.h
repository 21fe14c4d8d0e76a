// Every change to the call log: calls, participants, the timeline
// (call_events) and the audit log. Runs on the commit thread only, inside the
// transaction CommitQueue opens; each method either changes the call and
// writes its event and audit rows, or returns an error and changes nothing
// but the audit row of a refusal.
//
// Error codes: validation, forbidden, call_not_found, invalid_transition,
// call_full, already_participant, not_participant, too_many_open_calls,
// db_error.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "call_log/audit_record.h"
#include "call_log/call_reader.h"
#include "call_log/call_record.h"
#include "common/clock.h"
#include "common/sqlite.h"

namespace vytal {

struct NewCall {
  std::string patient_id;
  std::string provider_id;
  std::string type;
  std::optional<std::string> appointment_id;
  std::optional<int64_t> scheduled_at;
};

// One sampled quality report (getStats figures a browser sends).
struct QualitySample {
  std::optional<int64_t> rtt_ms;
  std::optional<int64_t> jitter_ms;
  std::optional<int64_t> packet_loss_permille;  // lost / expected, in thousandths
  std::optional<int64_t> bitrate_kbps;
};

// One report of the TURN plugin about a relay allocation.
struct TurnReport {
  std::string row_id;    // turn_usage.id, stable for the TURN session
  std::string event;     // created, refreshed, deleted, usage
  std::string username;  // the REST username "<expiry>:<user>[@<call id>]"
  std::string user_id;
  std::optional<std::string> call_id;
  std::string relay_address;
  std::string transport;
  int64_t bytes_sent = 0;  // usage: since the previous report
  int64_t bytes_received = 0;
  int64_t packets_sent = 0;
  int64_t packets_received = 0;
  bool totals = false;  // the counts are the session's totals (replace), not deltas (add)
  bool final = false;
};

// A participant the call log shows in a call when signald starts: nobody can
// be connected yet, so each gets the reconnect grace period again.
struct StrandedParticipant {
  std::string call_id;
  std::string user_id;
  std::string role;
  bool call_active = false;
};

// The call log's own limits on what one subject can make it write.
struct CallWriterLimits {
  int max_open_calls_per_patient = 0;  // scheduled + active; 0: no cap (privileged creators never capped)
  int denied_audits_per_minute = 0;    // per subject; 0: every refusal audited
};

class CallWriter {
 public:
  // How often signald records that it is alive (record_readiness), so a
  // restart knows when the previous run stopped.
  static constexpr int64_t kHeartbeatMs = 30000;

  CallWriter(sqlite3* db, const Clock& clock, int max_participants);
  // `audits_suppressed` (may be null) counts refusals left out of the audit log.
  void set_limits(CallWriterLimits limits, std::atomic<uint64_t>* audits_suppressed);
  // A batch rolled back and run again (CommitQueue) would count its refusals
  // twice: begin_batch() marks the counts, undo_batch() puts them back.
  void begin_batch();
  void undo_batch();

  Result<CallUpdate> create(const NewCall& call, const Actor& actor);
  // `at_ms`: when the call ended, for an end recorded after it happened
  // (signaling's all_left written again); now when absent.
  Result<CallUpdate> end(std::string_view call_id, const Actor& actor, std::string_view reason,
                         std::optional<int64_t> at_ms = std::nullopt);
  Result<CallUpdate> cancel(std::string_view call_id, const Actor& actor, std::string_view reason);
  Result<CallUpdate> add_participant(std::string_view call_id, const Actor& actor, std::string_view user_id,
                                     std::string_view role);
  // A participant's session starts (the second one in makes a scheduled call
  // active), drops (the slot is kept: status reconnecting, time stops) or
  // ends (reason: left, timeout). A drop or an end happened at `at_ms` (its
  // time in the call stops there), which may be before it is recorded.
  Result<CallUpdate> join(std::string_view call_id, const Actor& actor);
  Result<CallUpdate> disconnect(std::string_view call_id, const Actor& actor, int64_t at_ms);
  Result<CallUpdate> leave(std::string_view call_id, const Actor& actor, std::string_view reason, int64_t at_ms);
  // An operator removes `user_id` from the call (vytal-admin, vytalctl): its
  // session closes with status removed, a participant_removed event and the
  // audit record (the operator's reason) are written, and join refuses the
  // user for this call from then on (error removed). not_participant when it
  // holds no slot; invalid_transition when the call is over.
  Result<CallUpdate> remove(std::string_view call_id, std::string_view user_id, const AuditRecord& audit);
  // At start-up: every participant still joined to an open call (signald
  // stopped or crashed under it) becomes reconnecting, its time stopped at
  // the previous run's last heartbeat,
  // with a participant_disconnected event (reason signald_restart). Returns
  // those and the ones already reconnecting, for Signaling to wait for. An
  // active call nobody is in any more is ended (all_left).
  Result<std::vector<StrandedParticipant>> recover_after_restart();
  bool record_quality(std::string_view call_id, const Actor& actor, const QualitySample& sample);
  // Creates or updates the allocation's turn_usage row (usage adds up).
  bool record_turn(const TurnReport& report);
  // Closes the turn_usage rows still active that started before a TURN
  // server's (re)start.
  bool close_turn_sessions_before(int64_t started_before_ms);

  // An audit row (outcome ok or denied).
  bool audit(const Actor& actor, std::string_view action, std::string_view outcome,
             std::optional<std::string_view> call_id);
  // An audit row for a refused action, unless the subject has had
  // denied_audits_per_minute of them in the current minute: a refusal must
  // not be a way to make the call log write without bound. The excess is
  // counted. Returns false only when the database failed.
  bool audit_denied(const Actor& actor, std::string_view action, std::optional<std::string_view> call_id);
  // Writes `record` unless a row with its id exists (then does nothing).
  bool record_audit(const AuditRecord& record);
  bool record_readiness();

 private:
  Result<CallRecord> load(std::string_view call_id);
  Result<CallUpdate> finish(std::string_view call_id, const Actor& actor, CallEvent event, std::string_view action,
                            std::string_view reason, std::optional<int64_t> at_ms);
  Error deny(const Actor& actor, std::string_view action, std::optional<std::string_view> call_id);
  Error db_error();
  int64_t next_seq() { return ++seq_; }
  bool write_call(CallRecord& c, int64_t now, bool insert);
  bool write_participant(ParticipantRecord& p, int64_t now, bool insert, std::optional<std::string_view> invited_by);
  bool write_event(std::string_view call_id, std::string_view type, std::string_view actor_id,
                   const std::string& detail, int64_t now);
  // Closes a participant's open session at `now`, adding to its duration the
  // part of the session during which the call was active (waiting alone for
  // the other side is not call time).
  static void close_session(ParticipantRecord& p, const CallRecord& call, int64_t now, const char* status);

  struct DenialWindow {
    int64_t start_ms = 0;
    int count = 0;
  };

  sqlite3* db_;
  const Clock& clock_;
  int max_participants_;
  CallWriterLimits limits_;
  std::atomic<uint64_t>* audits_suppressed_ = nullptr;
  std::unordered_map<std::string, DenialWindow> denials_;             // by subject, this minute
  std::vector<std::pair<std::string, DenialWindow>> denials_before_;  // since begin_batch, oldest first
  uint64_t suppressed_in_batch_ = 0;
  int64_t seq_ = 0;
  CallReader reader_;
  Statement insert_call_, update_call_, insert_participant_, update_participant_, insert_event_, insert_audit_,
      insert_foreign_audit_, insert_quality_, upsert_turn_, readiness_, open_calls_;
};

}  // namespace vytal
