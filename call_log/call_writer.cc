#include "call_log/call_writer.h"

#include <algorithm>

#include "call_log/call_access.h"
#include "call_log/schema.h"
#include "call_log/sync_tables.h"
#include "common/crypto.h"
#include "common/json.h"

namespace vytal {
namespace {

bool done(Statement& s) {
  int rc = s.step();
  s.reset();
  return rc == SQLITE_DONE;
}

// In the call now (time counts).
bool is_open_session(const ParticipantRecord& p) { return p.status == "joined"; }
// Holding a slot: in the call, or dropped and within the reconnect grace period.
bool holds_slot(const ParticipantRecord& p) { return p.status == "joined" || p.status == "reconnecting"; }

}  // namespace

CallWriter::CallWriter(sqlite3* db, const Clock& clock, int max_participants)
    : db_(db),
      clock_(clock),
      max_participants_(max_participants),
      reader_(db),
      insert_call_(db,
                   "INSERT INTO calls(id, patient_id, provider_id, appointment_id, type, status, scheduled_at, "
                   "started_at, ended_at, duration_ms, end_reason, created_by, created_at, updated_at, version, "
                   "change_seq) VALUES(:id, :patient, :provider, :appointment, :type, :status, :scheduled, :started, "
                   ":ended, :duration, :reason, :created_by, :now, :now, :version, :seq)"),
      update_call_(db,
                   "UPDATE calls SET status = :status, started_at = :started, ended_at = :ended, duration_ms = "
                   ":duration, end_reason = :reason, updated_at = :now, version = :version, change_seq = :seq "
                   "WHERE id = :id"),
      insert_participant_(db,
                          "INSERT INTO call_participants(id, call_id, user_id, role, status, invited_by, joined_at, "
                          "left_at, duration_ms, created_at, updated_at, version, change_seq) VALUES(:id, :call, "
                          ":user, :role, :status, :invited_by, :joined, :left, :duration, :now, :now, :version, :seq)"),
      update_participant_(db,
                          "UPDATE call_participants SET status = :status, joined_at = :joined, left_at = :left, "
                          "duration_ms = :duration, updated_at = :now, version = :version, change_seq = :seq "
                          "WHERE id = :id"),
      insert_event_(db,
                    "INSERT INTO call_events(id, call_id, type, actor_id, detail, occurred_at, created_at, "
                    "updated_at, version, change_seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, 1, ?7)"),
      insert_audit_(db,
                    "INSERT INTO audit_log(id, occurred_at, actor_id, actor_role, action, outcome, call_id, "
                    "remote_addr, detail, created_at, updated_at, version, change_seq) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?2, ?2, 1, ?9)"),
      insert_foreign_audit_(db,
                            "INSERT INTO audit_log(id, occurred_at, actor_id, actor_role, action, outcome, call_id, "
                            "remote_addr, detail, created_at, updated_at, version, change_seq) "
                            "VALUES(:id, :at, :actor, :role, :action, :outcome, :call, :addr, :detail, :now, :now, 1, "
                            ":seq) ON CONFLICT(id) DO NOTHING"),
      insert_quality_(db,
                      "INSERT INTO call_quality_samples(id, call_id, user_id, rtt_ms, jitter_ms, packet_loss_permille, "
                      "bitrate_kbps, sampled_at, created_at, updated_at, version, change_seq) VALUES(:id, :call, "
                      ":user, :rtt, :jitter, :loss, :bitrate, :now, :now, :now, 1, :seq)"),
      upsert_turn_(db,
                   "INSERT INTO turn_usage(id, call_id, user_id, turn_username, relay_address, transport, state, "
                   "started_at, ended_at, bytes_sent, bytes_received, packets_sent, packets_received, created_at, "
                   "updated_at, version, change_seq) VALUES(:id, :call, :user, :username, :relay, :transport, :state, "
                   ":now, :ended, :bs, :br, :ps, :pr, :now, :now, 1, :seq) ON CONFLICT(id) DO UPDATE SET "
                   "relay_address = coalesce(nullif(excluded.relay_address, ''), relay_address), "
                   "transport = coalesce(nullif(excluded.transport, ''), transport), "
                   "state = CASE WHEN state = 'closed' THEN 'closed' ELSE excluded.state END, "
                   "ended_at = coalesce(ended_at, excluded.ended_at), "
                   // Totals (the plugin's session counters) replace, and never go
                   // back; deltas add up.
                   "bytes_sent = CASE WHEN :totals THEN max(bytes_sent, excluded.bytes_sent) ELSE bytes_sent + "
                   "excluded.bytes_sent END, bytes_received = CASE WHEN :totals THEN max(bytes_received, "
                   "excluded.bytes_received) ELSE bytes_received + excluded.bytes_received END, packets_sent = CASE "
                   "WHEN :totals THEN max(packets_sent, excluded.packets_sent) ELSE packets_sent + "
                   "excluded.packets_sent END, packets_received = CASE WHEN :totals THEN max(packets_received, "
                   "excluded.packets_received) ELSE packets_received + excluded.packets_received END, "
                   "updated_at = :now, version = version + 1, change_seq = :seq"),
      readiness_(db, "INSERT OR REPLACE INTO readiness_probe(id, checked_at) VALUES(1, ?)"),
      open_calls_(db, "SELECT count(*) FROM calls WHERE patient_id = ? AND status IN ('scheduled', 'active')") {
  seq_ = last_change_seq(db);
}

Error CallWriter::db_error() { return Error{"db_error", std::string("call log write failed: ") + sqlite3_errmsg(db_)}; }

void CallWriter::set_limits(CallWriterLimits limits, std::atomic<uint64_t>* audits_suppressed) {
  limits_ = limits;
  audits_suppressed_ = audits_suppressed;
}

void CallWriter::begin_batch() {
  denials_before_.clear();
  suppressed_in_batch_ = 0;
}

void CallWriter::undo_batch() {
  for (auto it = denials_before_.rbegin(); it != denials_before_.rend(); ++it) denials_[it->first] = it->second;
  if (audits_suppressed_) audits_suppressed_->fetch_sub(suppressed_in_batch_);
  begin_batch();
}

Error CallWriter::deny(const Actor& actor, std::string_view action, std::optional<std::string_view> call_id) {
  if (!audit_denied(actor, action, call_id)) return db_error();
  return Error{"forbidden", "you may not do this to this call"};
}

bool CallWriter::audit_denied(const Actor& actor, std::string_view action, std::optional<std::string_view> call_id) {
  if (limits_.denied_audits_per_minute > 0) {
    int64_t now = clock_.now_ms();
    if (denials_.size() >= 4096)  // forget the subjects whose minute is over
      std::erase_if(denials_, [now](const auto& e) { return now - e.second.start_ms >= 60000; });
    DenialWindow& w = denials_[actor.sub];
    denials_before_.emplace_back(actor.sub, w);
    if (now - w.start_ms >= 60000) w = DenialWindow{now, 0};
    if (w.count >= limits_.denied_audits_per_minute) {
      if (audits_suppressed_) audits_suppressed_->fetch_add(1);
      ++suppressed_in_batch_;
      return true;
    }
    ++w.count;
  }
  return audit(actor, action, "denied", call_id);
}

bool CallWriter::audit(const Actor& actor, std::string_view action, std::string_view outcome,
                       std::optional<std::string_view> call_id) {
  int64_t now = clock_.now_ms();
  insert_audit_.bind(1, uuid_v7(now))
      .bind(2, now)
      .bind(3, actor.sub)
      .bind(4, std::string_view(role_name(actor.role)))
      .bind(5, action)
      .bind(6, outcome)
      .bind(8, actor.remote_addr)
      .bind(9, next_seq());
  if (call_id) insert_audit_.bind(7, *call_id);
  return done(insert_audit_);
}

bool CallWriter::record_audit(const AuditRecord& r) {
  int64_t now = clock_.now_ms();
  insert_foreign_audit_.bind(":id", r.id)
      .bind(":at", r.occurred_at)
      .bind(":actor", r.actor_id)
      .bind(":role", r.actor_role)
      .bind(":action", r.action)
      .bind(":outcome", r.outcome)
      .bind(":call", r.call_id)
      .bind(":addr", r.remote_addr)
      .bind(":detail", r.detail.empty() ? std::optional<std::string>() : std::optional<std::string>(r.detail))
      .bind(":now", now)
      .bind(":seq", next_seq());
  return done(insert_foreign_audit_);
}

bool CallWriter::record_readiness() {
  readiness_.bind(1, clock_.now_ms());
  return done(readiness_);
}

Result<CallRecord> CallWriter::load(std::string_view call_id) {
  auto got = reader_.get(call_id);
  if (!got) return got.error();
  if (!got.value()) return Error{"call_not_found", "no call with this id"};
  return std::move(*got.value());
}

bool CallWriter::write_call(CallRecord& c, int64_t now, bool insert) {
  if (!insert) ++c.version;
  c.updated_at = now;
  Statement& s = insert ? insert_call_ : update_call_;
  s.bind(":id", c.id)
      .bind(":status", std::string_view(call_status_name(c.status)))
      .bind(":started", c.started_at)
      .bind(":ended", c.ended_at)
      .bind(":duration", c.duration_ms)
      .bind(":reason", c.end_reason)
      .bind(":now", now)
      .bind(":version", c.version)
      .bind(":seq", next_seq());
  if (insert) {
    s.bind(":patient", c.patient_id)
        .bind(":provider", c.provider_id)
        .bind(":appointment", c.appointment_id)
        .bind(":type", c.type)
        .bind(":scheduled", c.scheduled_at)
        .bind(":created_by", c.created_by);
  }
  return done(s);
}

bool CallWriter::write_participant(ParticipantRecord& p, int64_t now, bool insert,
                                   std::optional<std::string_view> invited_by) {
  if (!insert) ++p.version;
  p.updated_at = now;
  Statement& s = insert ? insert_participant_ : update_participant_;
  s.bind(":id", p.id)
      .bind(":status", p.status)
      .bind(":joined", p.joined_at)
      .bind(":left", p.left_at)
      .bind(":duration", p.duration_ms)
      .bind(":now", now)
      .bind(":version", p.version)
      .bind(":seq", next_seq());
  if (insert) {
    s.bind(":call", p.call_id).bind(":user", p.user_id).bind(":role", p.role);
    if (invited_by) s.bind(":invited_by", *invited_by);
  }
  return done(s);
}

bool CallWriter::write_event(std::string_view call_id, std::string_view type, std::string_view actor_id,
                             const std::string& detail, int64_t now) {
  insert_event_.bind(1, uuid_v7(now)).bind(2, call_id).bind(3, type).bind(4, actor_id).bind(6, now).bind(7, next_seq());
  if (!detail.empty()) insert_event_.bind(5, detail);
  return done(insert_event_);
}

void CallWriter::close_session(ParticipantRecord& p, const CallRecord& call, int64_t now, const char* status) {
  if (is_open_session(p) && p.joined_at && call.started_at) {
    int64_t from = std::max(*p.joined_at, *call.started_at);
    if (now > from) p.duration_ms += now - from;
  }
  if (is_open_session(p)) p.left_at = now;  // a reconnecting participant left when it dropped
  p.status = status;
}

Result<CallUpdate> CallWriter::create(const NewCall& in, const Actor& actor) {
  if (!can_create_call(actor, in.patient_id, in.provider_id)) return deny(actor, "call.create", std::nullopt);
  if (limits_.max_open_calls_per_patient > 0 && !is_privileged(actor)) {
    // Counted here, in the transaction: no two creates can both take the last place.
    open_calls_.bind(1, in.patient_id);
    int rc = open_calls_.step();
    int64_t open = rc == SQLITE_ROW ? open_calls_.integer(0) : -1;
    open_calls_.reset();
    if (open < 0) return db_error();
    if (open >= limits_.max_open_calls_per_patient)
      return Error{"too_many_open_calls", "this patient already has " + std::to_string(open) +
                                              " scheduled or active calls; end or cancel some first"};
  }
  int64_t now = clock_.now_ms();
  CallRecord c;
  c.id = uuid_v7(now);
  c.patient_id = in.patient_id;
  c.provider_id = in.provider_id;
  c.appointment_id = in.appointment_id;
  c.type = in.type;
  c.scheduled_at = in.scheduled_at;
  c.created_by = actor.sub;
  c.created_at = now;
  if (!write_call(c, now, true)) return db_error();
  if (!write_event(c.id, "created", actor.sub, "", now) || !audit(actor, "call.create", "ok", c.id)) return db_error();
  return CallUpdate{std::move(c), std::nullopt, actor.sub, "created", "", ""};
}

Result<CallUpdate> CallWriter::finish(std::string_view call_id, const Actor& actor, CallEvent event,
                                      std::string_view action, std::string_view reason, std::optional<int64_t> at_ms) {
  auto loaded = load(call_id);
  if (!loaded) return loaded.error();
  CallRecord& c = loaded.value();
  if (!can_manage_call(actor, c)) return deny(actor, action, call_id);
  auto next = next_call_status(c.status, event);
  if (!next)
    return Error{"invalid_transition",
                 std::string("a call that is ") + call_status_name(c.status) + " cannot " + call_event_name(event)};
  CallStatus from = c.status;
  int64_t now = clock_.now_ms(), at = std::min(at_ms.value_or(now), now);
  c.status = *next;
  c.ended_at = at;
  c.duration_ms = c.started_at ? std::max<int64_t>(at - *c.started_at, 0) : 0;
  c.end_reason = reason.empty() ? (event == CallEvent::cancel ? "cancelled" : "hung_up") : std::string(reason);
  if (!write_call(c, now, false)) return db_error();
  for (ParticipantRecord& p : c.participants) {
    if (!holds_slot(p)) continue;
    close_session(p, c, at, "left");
    if (!write_participant(p, now, false, std::nullopt)) return db_error();
  }
  JsonPtr detail(json_object());
  json_put(detail.get(), "reason", json_str(*c.end_reason));
  json_put(detail.get(), "status", json_string(call_status_name(c.status)));
  if (!write_event(c.id, call_status_name(c.status), actor.sub, json_dump(detail.get()), at) ||
      !audit(actor, action, "ok", c.id))
    return db_error();
  std::string what = call_status_name(c.status), why = *c.end_reason;
  return CallUpdate{std::move(c), from, actor.sub, std::move(what), "", std::move(why)};
}

Result<CallUpdate> CallWriter::end(std::string_view call_id, const Actor& actor, std::string_view reason,
                                   std::optional<int64_t> at_ms) {
  return finish(call_id, actor, CallEvent::end, "call.end", reason, at_ms);
}

Result<CallUpdate> CallWriter::cancel(std::string_view call_id, const Actor& actor, std::string_view reason) {
  return finish(call_id, actor, CallEvent::cancel, "call.cancel", reason, std::nullopt);
}

Result<CallUpdate> CallWriter::add_participant(std::string_view call_id, const Actor& actor, std::string_view user_id,
                                               std::string_view role) {
  auto loaded = load(call_id);
  if (!loaded) return loaded.error();
  CallRecord& c = loaded.value();
  if (!can_invite_to_call(actor, c)) return deny(actor, "participant.add", call_id);
  if (is_terminal(c.status))
    return Error{"invalid_transition",
                 std::string("a call that is ") + call_status_name(c.status) + " takes no new participants"};
  int people = 2;  // the patient and the provider, whether or not they have joined yet
  if (user_id == c.patient_id || user_id == c.provider_id)
    return Error{"already_participant", "this user is already a participant"};
  for (const ParticipantRecord& p : c.participants) {
    if (p.user_id == user_id) return Error{"already_participant", "this user is already a participant"};
    people += p.user_id != c.patient_id && p.user_id != c.provider_id;
  }
  if (people >= max_participants_)
    return Error{"call_full", "the call has its maximum of " + std::to_string(max_participants_) + " participants"};
  int64_t now = clock_.now_ms();
  ParticipantRecord p;
  p.id = uuid_v7(now);
  p.call_id = c.id;
  p.user_id = user_id;
  p.role = role;
  p.status = "invited";
  p.created_at = now;
  if (!write_participant(p, now, true, actor.sub)) return db_error();
  JsonPtr detail(json_object());
  json_put(detail.get(), "userId", json_str(user_id));
  json_put(detail.get(), "role", json_str(role));
  c.participants.push_back(std::move(p));
  if (!write_event(c.id, "participant_invited", actor.sub, json_dump(detail.get()), now) ||
      !audit(actor, "participant.add", "ok", c.id))
    return db_error();
  CallStatus status = c.status;
  return CallUpdate{std::move(c), status, actor.sub, "invited", std::string(user_id), ""};
}

Result<CallUpdate> CallWriter::join(std::string_view call_id, const Actor& actor) {
  auto loaded = load(call_id);
  if (!loaded) return loaded.error();
  CallRecord& c = loaded.value();
  ParticipantRecord* me = nullptr;
  for (ParticipantRecord& p : c.participants) {
    if (p.user_id != actor.sub) continue;
    if (p.status == "removed") {  // an operator took it out of this call: it stays out
      if (!audit_denied(actor, "call.join", call_id)) return db_error();
      return Error{"removed", "you were removed from this call"};
    }
    me = &p;
  }
  bool principal = actor.sub == c.patient_id || actor.sub == c.provider_id;
  if (!me && !principal) return deny(actor, "call.join", call_id);
  if (is_terminal(c.status))
    return Error{"invalid_transition",
                 std::string("a call that is ") + call_status_name(c.status) + " cannot be joined"};
  int64_t now = clock_.now_ms();
  CallStatus from = c.status;
  bool first_join = !me;
  if (first_join) {  // the patient's and provider's rows appear when they first join
    ParticipantRecord p;
    p.id = uuid_v7(now);
    p.call_id = c.id;
    p.user_id = actor.sub;
    p.role = actor.sub == c.patient_id ? "patient" : "provider";
    p.created_at = now;
    c.participants.push_back(std::move(p));
    me = &c.participants.back();
  }
  if (!is_open_session(*me)) me->joined_at = now;
  me->status = "joined";
  me->left_at.reset();
  if (!write_participant(*me, now, first_join, std::nullopt)) return db_error();
  if (!write_event(c.id, "participant_joined", actor.sub, "", now)) return db_error();
  int in_call = 0;
  for (const ParticipantRecord& p : c.participants) in_call += is_open_session(p);
  if (c.status == CallStatus::scheduled && in_call >= 2) {  // the second one in: the call starts
    c.status = CallStatus::active;
    c.started_at = now;
    if (!write_call(c, now, false) || !write_event(c.id, "started", actor.sub, "", now)) return db_error();
  }
  return CallUpdate{std::move(c), from, actor.sub, "joined", actor.sub, ""};
}

Result<CallUpdate> CallWriter::leave(std::string_view call_id, const Actor& actor, std::string_view reason,
                                     int64_t at_ms) {
  auto loaded = load(call_id);
  if (!loaded) return loaded.error();
  CallRecord& c = loaded.value();
  for (ParticipantRecord& p : c.participants) {
    if (p.user_id != actor.sub || !holds_slot(p)) continue;
    int64_t now = clock_.now_ms(), at = std::min(at_ms, now);
    close_session(p, c, at, "left");
    JsonPtr detail(json_object());
    json_put(detail.get(), "reason", json_str(reason));
    if (!write_participant(p, now, false, std::nullopt) ||
        !write_event(c.id, "participant_left", actor.sub, json_dump(detail.get()), at))
      return db_error();
    CallStatus status = c.status;
    return CallUpdate{std::move(c), status, actor.sub, "left", actor.sub, std::string(reason)};
  }
  return Error{"not_participant", "you are not in this call"};
}

Result<CallUpdate> CallWriter::remove(std::string_view call_id, std::string_view user_id, const AuditRecord& audit) {
  auto loaded = load(call_id);
  if (!loaded) return loaded.error();
  CallRecord& c = loaded.value();
  if (is_terminal(c.status))
    return Error{"invalid_transition",
                 std::string("a call that is ") + call_status_name(c.status) + " has nobody to remove"};
  for (ParticipantRecord& p : c.participants) {
    if (p.user_id != user_id || !holds_slot(p)) continue;
    int64_t now = clock_.now_ms();
    close_session(p, c, now, "removed");
    JsonPtr detail(json_object());
    json_put(detail.get(), "by", json_str(audit.actor_id));
    json_put(detail.get(), "reason", json_str(audit.detail));
    if (!write_participant(p, now, false, std::nullopt) ||
        !write_event(c.id, "participant_removed", audit.actor_id, json_dump(detail.get()), now) || !record_audit(audit))
      return db_error();
    CallStatus status = c.status;
    return CallUpdate{std::move(c), status, audit.actor_id, "left", std::string(user_id), "removed"};
  }
  return Error{"not_participant", "that user is not in this call"};
}

Result<CallUpdate> CallWriter::disconnect(std::string_view call_id, const Actor& actor, int64_t at_ms) {
  auto loaded = load(call_id);
  if (!loaded) return loaded.error();
  CallRecord& c = loaded.value();
  for (ParticipantRecord& p : c.participants) {
    if (p.user_id != actor.sub || !is_open_session(p)) continue;
    int64_t now = clock_.now_ms(), at = std::min(at_ms, now);
    close_session(p, c, at, "reconnecting");
    if (!write_participant(p, now, false, std::nullopt) ||
        !write_event(c.id, "participant_disconnected", actor.sub, "", at))
      return db_error();
    CallStatus status = c.status;
    return CallUpdate{std::move(c), status, actor.sub, "reconnecting", actor.sub, ""};
  }
  return Error{"not_participant", "you are not in this call"};
}

Result<std::vector<StrandedParticipant>> CallWriter::recover_after_restart() {
  // The first column of a query's rows; nullopt when the query fails.
  auto call_ids = [this](const char* sql) -> std::optional<std::vector<std::string>> {
    Statement q(db_, sql);
    std::vector<std::string> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.text(0));
    if (rc != SQLITE_DONE) return std::nullopt;
    return out;
  };
  auto ids = call_ids(
      "SELECT DISTINCT p.call_id FROM call_participants p JOIN calls c ON c.id = p.call_id "
      "WHERE p.status IN ('joined', 'reconnecting') AND c.status IN ('scheduled', 'active')");
  // An active call nobody holds a slot in any more: its all_left end was
  // never recorded (signald stopped first). It ends now.
  auto orphan_ids = call_ids(
      "SELECT c.id FROM calls c WHERE c.status = 'active' AND NOT EXISTS (SELECT 1 FROM "
      "call_participants p WHERE p.call_id = c.id AND p.status IN ('joined', 'reconnecting'))");
  if (!ids || !orphan_ids) return db_error();
  for (const std::string& id : *orphan_ids) {
    auto ended = end(id, Actor{"vytal-signald", Role::service, ""}, "all_left");
    if (!ended) return ended.error();
  }
  std::vector<StrandedParticipant> out;
  int64_t now = clock_.now_ms();
  // Sessions stop where signald was last known alive (its heartbeat in
  // readiness_probe, written every kHeartbeatMs), not at this restart: the
  // downtime is not time in the call.
  Statement alive(db_, "SELECT checked_at FROM readiness_probe WHERE id = 1");
  int64_t stopped_at = now;
  if (alive.step() == SQLITE_ROW) stopped_at = std::min(now, alive.integer(0) + kHeartbeatMs);
  for (const std::string& id : *ids) {
    auto loaded = load(id);
    if (!loaded) return loaded.error();
    CallRecord& c = loaded.value();
    for (ParticipantRecord& p : c.participants) {
      if (!holds_slot(p)) continue;
      if (is_open_session(p)) {
        close_session(p, c, std::max(stopped_at, p.joined_at.value_or(stopped_at)), "reconnecting");
        if (!write_participant(p, now, false, std::nullopt) ||
            !write_event(c.id, "participant_disconnected", p.user_id, R"({"reason":"signald_restart"})", now))
          return db_error();
      }
      out.push_back({c.id, p.user_id, p.role, c.status == CallStatus::active});
    }
  }
  return out;
}

bool CallWriter::record_turn(const TurnReport& r) {
  int64_t now = clock_.now_ms();
  bool closing = r.event == "deleted" || r.final;
  upsert_turn_.bind(":id", r.row_id)
      .bind(":call", r.call_id)
      .bind(":user", r.user_id)
      .bind(":username", r.username)
      .bind(":relay", r.relay_address)
      .bind(":transport", r.transport)
      .bind(":state", std::string_view(closing ? "closed" : "active"))
      .bind(":now", now)
      .bind(":ended", closing ? std::optional<int64_t>(now) : std::nullopt)
      .bind(":bs", r.bytes_sent)
      .bind(":br", r.bytes_received)
      .bind(":ps", r.packets_sent)
      .bind(":pr", r.packets_received)
      .bind(":totals", int64_t{r.totals})
      .bind(":seq", next_seq());
  return done(upsert_turn_);
}

bool CallWriter::close_turn_sessions_before(int64_t started_before_ms) {
  // The TURN server restarted: its sessions from before are gone, and coturn
  // 4.6.1 sent no final report for them.
  Statement active(db_, "SELECT id FROM turn_usage WHERE state = 'active' AND started_at < ?");
  active.bind(1, started_before_ms);
  std::vector<std::string> ids;
  int rc;
  while ((rc = active.step()) == SQLITE_ROW) ids.push_back(active.text(0));
  if (rc != SQLITE_DONE) return false;
  Statement close(
      db_,
      "UPDATE turn_usage SET state = 'closed', ended_at = :ended, updated_at = :now, version = version + 1, "
      "change_seq = :seq WHERE id = :id");
  int64_t now = clock_.now_ms();
  for (const std::string& id : ids) {
    close.bind(":ended", started_before_ms).bind(":now", now).bind(":seq", next_seq()).bind(":id", id);
    if (!done(close)) return false;
  }
  return true;
}

bool CallWriter::record_quality(std::string_view call_id, const Actor& actor, const QualitySample& q) {
  int64_t now = clock_.now_ms();
  insert_quality_.bind(":id", uuid_v7(now))
      .bind(":call", call_id)
      .bind(":user", actor.sub)
      .bind(":rtt", q.rtt_ms)
      .bind(":jitter", q.jitter_ms)
      .bind(":loss", q.packet_loss_permille)
      .bind(":bitrate", q.bitrate_kbps)
      .bind(":now", now)
      .bind(":seq", next_seq());
  return done(insert_quality_);
}

}  // namespace vytal
