#include "signald/signaling/signaling.h"

#include <strings.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "signald/ice_servers.h"
#include "signald/signaling/admission.h"
#include "signald/signaling/session.h"

namespace vytal {
namespace {

// A reference of our own to a message's part, kept until a write completes.
JsonPtr retain(const json_t* j) { return JsonPtr(j ? json_incref(const_cast<json_t*>(j)) : nullptr); }

const Actor kSystem{"vytal-signald", Role::service, ""};

// How often presence writes the call log could not take are written again.
constexpr int64_t kSettleMs = 5000;

// The error codes of CallWriter as signaling reports them.
std::string_view signaling_code(const std::string& code) {
  if (code == "invalid_transition") return "call_ended";
  return code;
}

// A write the call log could not commit is worth retrying.
std::string join_error_message(const Error& e) {
  return e.code == kCallLogUnavailable ? "the join could not be recorded; retry" : e.message;
}
std::string end_error_message(const Error& e) {
  return e.code == kCallLogUnavailable ? "the end could not be recorded; retry" : e.message;
}

// A quality report's figure when it is a number within [0, max].
std::optional<double> report_number(const json_t* msg, const char* key, double max) {
  const json_t* v = json_object_get(msg, key);
  if (!json_is_number(v)) return std::nullopt;
  double d = json_number_value(v);
  if (!(d >= 0 && d <= max)) return std::nullopt;
  return d;
}

json_t* message(std::string_view type) {
  json_t* m = json_object();
  json_put(m, "type", json_str(type));
  return m;
}

}  // namespace

Signaling::Signaling(SignalingDeps deps) : d_(deps), limits_(deps.settings.limits, deps.clock) {
  // Memory per idle connection is a target (docs/BENCHMARKS.md): with glibc a
  // session is one 160-byte block up to 152 bytes, a 176-byte one past that.
  static_assert(sizeof(Session) <= 152, "Signaling::Session outgrew its 160-byte malloc block");
  tick_.reset(event_new(d_.base, -1, EV_PERSIST, &Signaling::on_tick, this));
  timeval one_second{1, 0};
  event_add(tick_.get(), &one_second);
  // call-ended reaches the room however the call ended: end-call here,
  // POST /end or /cancel, or everyone gone (all_left).
  d_.call_log.observe([this](const CallUpdate& u) {
    if (is_terminal(u.call.status) && u.from && !is_terminal(*u.from)) call_finished(u.call, u.by);
  });
  adopt_stranded(d_.call_log.stranded());
}

void Signaling::adopt_stranded(const std::vector<StrandedParticipant>& stranded) {
  if (stranded.empty()) return;
  int64_t until = d_.clock.monotonic_ms() + d_.settings.signaling.reconnect_grace_s * 1000;
  std::set<std::string> calls;
  for (const StrandedParticipant& p : stranded) {
    Room& room = rooms_[p.call_id];
    room.active = room.active || p.call_active;
    auto [member, inserted] = room.members.try_emplace(p.user_id);
    if (!inserted) continue;  // already back on a connection of this run
    member->second.role = role_named(p.role);
    member->second.grace_until_ms = until;
    member->second.reconnecting_since_ms = d_.clock.now_ms();
    calls.insert(p.call_id);
  }
  LOG_INFO("signaling: %zu participant(s) of %zu call(s) open when signald last stopped have %d s to reconnect",
           stranded.size(), calls.size(), static_cast<int>(d_.settings.signaling.reconnect_grace_s));
}

Signaling::~Signaling() = default;

void Signaling::accept(HttpRequest& req, Responder responder) {
  AdmissionResult a = admit(req, d_.settings.allowed_origins, d_.jwt, d_.clock);
  if (!a.admitted) {
    const Refusal& r = a.refusal;
    d_.metrics.count_rejected(r.code);
    d_.metrics.count_request("/webrtc/ws", req.method_name(), r.status);
    HttpResponse answer = HttpServer::error_response(r.status, r.code, r.message);
    answer.headers = r.headers;
    std::move(responder).send(std::move(answer));
    return;
  }
  JwtClaims& claims = a.admitted->claims;
  // Sessions count the person: one token must not hold the server's
  // connections (each also costs memory and a ping).
  if (!limits_.open_session(claims.sub, claims.role)) {
    d_.metrics.count_rejected("too_many_sessions");
    d_.metrics.count_request("/webrtc/ws", req.method_name(), 429);
    std::move(responder).send(
        HttpServer::error_response(429, "too_many_sessions", "this user has too many signaling connections open"));
    return;
  }
  auto session = std::make_unique<Session>();
  Session* s = session.get();
  s->id = next_session_id_++;
  s->user = std::move(claims.sub);
  s->role = claims.role;
  s->token_exp_s = claims.exp + d_.settings.jwt.leeway_s;
  s->remote_addr = req.remote_addr;
  s->tokens = d_.settings.signaling.message_burst;
  s->refill_ms = d_.clock.monotonic_ms();
  sessions_.emplace(s->id, std::move(session));
  WsLink link = std::move(responder).upgrade(a.admitted->websocket_key, a.admitted->protocol, this, s);
  if (!link) {
    limits_.close_session(s->user, s->role);
    sessions_.erase(s->id);
    return;
  }
  s->link = link;
  d_.metrics.ws_sessions = sessions_.size();
}

void Signaling::send(Session& s, const json_t* m) { s.link.send(json_dump(m)); }

void Signaling::send_error(Session& s, std::string_view code, std::string_view text, const json_t* request_id) {
  JsonPtr m(message("error"));
  json_put(m.get(), "code", json_str(code));
  json_put(m.get(), "message", json_str(text));
  if (request_id) json_put(m.get(), "requestId", json_incref(const_cast<json_t*>(request_id)));
  send(s, m.get());
}

void Signaling::refuse(Session& s, const std::string& reason, std::string_view code, std::string_view text,
                       const json_t* request_id) {
  d_.metrics.count_rejected(reason);
  send_error(s, code, text, request_id);
}

void Signaling::broadcast(Room& room, const json_t* m, const std::string& except_user) {
  broadcast_text(room, json_dump(m), except_user);
}

void Signaling::broadcast_text(Room& room, const std::string& text, const std::string& except_user) {
  // Collected first: sending may drop a slow client, which changes nothing
  // here (drops are handled from the top of the loop) but keeps this simple.
  std::vector<WsLink> links;
  for (auto& [user, member] : room.members)
    if (member.session && user != except_user) links.push_back(member.session->link);
  for (const WsLink& l : links) l.send(text);
}

bool Signaling::rate_allows(Session& s) {
  const SignalingSettings& cfg = d_.settings.signaling;
  int64_t now = d_.clock.monotonic_ms();
  s.tokens = std::min(cfg.message_burst, s.tokens + static_cast<double>(now - s.refill_ms) * cfg.message_rate / 1000.0);
  s.refill_ms = now;
  if (s.tokens >= 1.0) {
    s.tokens -= 1.0;
    return true;
  }
  d_.metrics.count_rejected("ws_rate_limited");
  if (now - s.flood_window_ms > 1000) {  // one error message per second of flooding
    s.flood_window_ms = now;
    s.dropped_in_window = 0;
    send_error(s, "rate_limited", "too many messages; they are being dropped", nullptr);
  }
  // A client that keeps flooding far past the limit is cut off.
  if (++s.dropped_in_window > 10 * cfg.message_burst) s.link.close(kWsClosePolicy, "rate limit");
  return false;
}

bool Signaling::subject_allows(Session& s, const json_t* rid) {
  int64_t wait_s = limits_.charge(s.user, s.role, WriteKind::other);
  if (wait_s == 0) return true;
  d_.metrics.count_rejected("rate_limited");
  JsonPtr m(message("error"));
  json_put(m.get(), "code", json_string("rate_limited"));
  json_put(m.get(), "message", json_string("too many joins or ends by this user; retry later"));
  json_put(m.get(), "retryAfterSeconds", json_integer(wait_s));
  if (rid) json_put(m.get(), "requestId", json_incref(const_cast<json_t*>(rid)));
  send(s, m.get());
  return false;
}

bool Signaling::on_ws_control(WsLink link) {
  Session& s = *static_cast<Session*>(link.user());
  if (!s.link) s.link = link;
  return rate_allows(s);
}

void Signaling::on_ws_message(WsLink link, std::string_view text) {
  Session& s = *static_cast<Session*>(link.user());
  if (!s.link) s.link = link;  // messages that came with the handshake arrive before upgrade() returns
  if (!rate_allows(s)) return;
  std::string error;
  auto parsed = messages_.parse(text, &error);
  if (!parsed) return refuse(s, "ws_invalid_json", "invalid_json", error, nullptr);
  const json_t* rid = parsed->request_id.get();
  if (parsed->type.empty()) return refuse(s, "ws_invalid_message", "validation", "a message needs a type", rid);
  d_.metrics.count_ws_message(parsed->type);
  // The hot path: relayed from the one parse above.
  if (is_relayed_type(parsed->type)) return relay(s, *parsed);
  // The rest is rare: a jansson tree for their handlers.
  JsonPtr msg = json_parse(text, &error);
  if (!msg) return refuse(s, "ws_invalid_json", "invalid_json", "not valid JSON: " + error, rid);
  std::string_view type = parsed->type;
  if (type == "join") return join(s, msg.get(), rid);
  if (type == "leave") return leave(s, rid);
  if (type == "quality-report") return quality_report(s, msg.get());
  if (type == "end-call") return end_call(s, msg.get(), rid);
  refuse(s, "ws_unknown_type", "unknown_type", "unknown message type", rid);
}

void Signaling::join(Session& s, const json_t* msg, const json_t* rid) {
  if (s.joining) return refuse(s, "ws_join_in_progress", "join_in_progress", "a join is already in progress", rid);
  if (d_.clock.now_s() >= s.token_exp_s)
    return refuse(s, "ws_token_expired", "token_expired", "the token has expired; reconnect with a fresh one", rid);
  if (s.room) return refuse(s, "ws_already_joined", "already_joined", "leave this call before joining another", rid);
  auto call_id = json_string_field(msg, "callId");
  if (!call_id || !is_uuid(*call_id))
    return refuse(s, "ws_invalid_message", "validation", "callId must be a call id", rid);
  if (!subject_allows(s, rid)) return;
  s.joining = true;
  Actor actor = s.actor();
  bool queued = d_.call_log.submit(
      [id = std::string(*call_id), actor](CallWriter& w) { return w.join(id, actor); },
      [this, session_id = s.id, id = std::string(*call_id), actor, request_id = retain(rid)](Result<CallUpdate> r) {
        if (auto j = joins_in_flight_.find(id); j != joins_in_flight_.end() && --j->second == 0)
          joins_in_flight_.erase(j);
        auto it = sessions_.find(session_id);
        Session* sp = it == sessions_.end() ? nullptr : it->second.get();
        if (sp) sp->joining = false;
        if (!r) {
          if (r.error().code != kCallLogUnavailable) d_.metrics.count_rejected("ws_join_" + r.error().code);
          if (sp) send_error(*sp, signaling_code(r.error().code), join_error_message(r.error()), request_id.get());
          return;
        }
        enter_room(session_id, actor, r.value(), request_id.get());
      },
      CallLog::WhenFull::refuse);
  if (!queued) {
    s.joining = false;
    return refuse(s, "ws_overloaded", "overloaded", "the call log is overloaded; retry", rid);
  }
  ++joins_in_flight_[std::string(*call_id)];  // counted by call: its connection may go before the join is recorded
}

void Signaling::enter_room(uint64_t session_id, const Actor& actor, const CallUpdate& update, const json_t* rid) {
  auto it = sessions_.find(session_id);
  Session* s = it == sessions_.end() ? nullptr : it->second.get();
  const CallRecord& call = update.call;
  int64_t now = d_.clock.monotonic_ms();
  RoomEntry& entry = *rooms_.try_emplace(call.id).first;
  Room& room = entry.second;
  room.active = call.status == CallStatus::active;
  std::string role = actor.role == Role::patient ? "patient" : "provider";
  for (const ParticipantRecord& p : call.participants)
    if (p.user_id == actor.sub) role = p.role;

  Member& m = room.members[actor.sub];
  bool reconnected = !m.session && m.grace_until_ms > 0;
  if (!s && m.session) return;                  // the join's connection is gone, but the user is here on another one
  d_.turn.unrevoke(actor.sub + "@" + call.id);  // back in the call: its credentials are good again
  if (m.session && m.session != s) {            // the same user from another tab or device: the newest wins
    Session* old = m.session;
    send_error(*old, "replaced", "you joined this call from another connection", nullptr);
    old->room = nullptr;
    old->link.close(4000, "replaced");
  }
  m.role = role_named(role);
  if (!s) {  // the connection dropped while the join was being recorded
    m.session = nullptr;
    m.reconnecting_since_ms = d_.clock.now_ms();
    m.grace_until_ms = now + d_.settings.signaling.reconnect_grace_s * 1000;
    record_presence(call.id, {PresenceWrite::Kind::disconnect, actor.sub, actor.role, "", d_.clock.now_ms()});
    return;
  }
  m.session = s;
  m.grace_until_ms = 0;
  m.connected_since_ms = d_.clock.now_ms();
  m.reconnecting_since_ms = 0;
  if (m.media) m.media->connection_state.clear();  // a failure reported on the previous connection is not this one's
  s->room = &entry;
  s->ice_refresh_ms = now + d_.settings.ice.ttl_s * 800;  // at 80 % of the credentials' lifetime

  JsonPtr joined = ice_servers_message(*s);
  json_put(joined.get(), "type", json_string("joined"));
  if (rid) json_put(joined.get(), "requestId", json_incref(const_cast<json_t*>(rid)));
  json_put(joined.get(), "callId", json_str(call.id));
  json_put(joined.get(), "userId", json_str(s->user));
  json_put(joined.get(), "role", json_str(role));
  json_put(joined.get(), "callStatus", json_string(call_status_name(call.status)));
  json_t* others = json_array();
  for (const auto& [user, member] : room.members) {
    if (user == s->user) continue;
    json_t* p = json_object();
    json_put(p, "userId", json_str(user));
    json_put(p, "role", json_str(*member.role));
    json_put(p, "state", json_string(member.session ? "connected" : "reconnecting"));
    json_array_append_new(others, p);
  }
  json_put(joined.get(), "participants", others);
  send(*s, joined.get());

  JsonPtr note(message("participant-joined"));
  json_put(note.get(), "callId", json_str(call.id));
  json_put(note.get(), "userId", json_str(s->user));
  json_put(note.get(), "role", json_str(role));
  json_put(note.get(), "reconnected", json_boolean(reconnected));
  json_put(note.get(), "callStatus", json_string(call_status_name(call.status)));
  broadcast(room, note.get(), s->user);
}

void Signaling::leave(Session& s, const json_t* rid) {
  if (!s.room) return refuse(s, "ws_not_joined", "not_joined", "join a call first", rid);
  RoomEntry* entry = std::exchange(s.room, nullptr);
  std::string call_id = entry->first;
  Members& members = entry->second.members;
  if (auto m = members.find(s.user); m != members.end() && m->second.session == &s) members.erase(m);
  JsonPtr left(message("left"));
  json_put(left.get(), "callId", json_str(call_id));
  if (rid) json_put(left.get(), "requestId", json_incref(const_cast<json_t*>(rid)));
  send(s, left.get());
  member_gone(call_id, s.user, s.role, "left");
}

void Signaling::member_gone(const std::string& call_id, const std::string& user, Role role, std::string_view reason,
                            bool close_room) {
  d_.turn.revoke(user + "@" + call_id);  // its TURN credentials die with its place in the call
  record_presence(call_id, {PresenceWrite::Kind::leave, user, role, std::string(reason), d_.clock.now_ms()});
  auto room = rooms_.find(call_id);
  if (room == rooms_.end()) return;
  JsonPtr note(message("participant-left"));
  json_put(note.get(), "callId", json_str(call_id));
  json_put(note.get(), "userId", json_str(user));
  json_put(note.get(), "reason", json_str(reason));
  broadcast(room->second, note.get(), user);
  if (close_room) close_room_if_empty(call_id);
}

void Signaling::close_room_if_empty(const std::string& call_id) {
  auto room = rooms_.find(call_id);
  if (room == rooms_.end() || !room->second.members.empty()) return;
  bool active = room->second.active;
  rooms_.erase(room);
  if (!active) return;  // nobody answered yet: the call stays scheduled for them
  // Everyone has gone: the call is over.
  // After the leaves before it, waiting in order when the queue is full; the
  // observer tells the room (someone may have rejoined meanwhile).
  record_presence(call_id, {PresenceWrite::Kind::all_left, "", Role::service, "", d_.clock.now_ms()});
}

void Signaling::record_presence(const std::string& call_id, PresenceWrite write, bool again) {
  Actor actor{write.user, write.role, ""};
  auto work = [call_id, actor, write](CallWriter& w) -> Result<CallUpdate> {
    switch (write.kind) {
      case PresenceWrite::Kind::leave: return w.leave(call_id, actor, write.reason, write.at_ms);
      case PresenceWrite::Kind::disconnect: return w.disconnect(call_id, actor, write.at_ms);
      case PresenceWrite::Kind::all_left: return w.end(call_id, kSystem, "all_left", write.at_ms);
    }
    return Error{"invalid", "unknown presence write"};
  };
  if (again) ++unsettled_[call_id].retrying;
  // A refusal (not in the call, already ended) is an answer: the record
  // already says so. Only a write the database did not take is missing.
  auto done = [this, call_id, write, again](bool missing) {
    auto it = unsettled_.find(call_id);
    if (missing && it == unsettled_.end()) {
      LOG_WARN("signald: call %s: who is in it could not be recorded; written again every %d s until it is",
               call_id.c_str(), static_cast<int>(kSettleMs / 1000));
      it = unsettled_.try_emplace(call_id).first;
    }
    if (it == unsettled_.end()) return;
    if (again) --it->second.retrying;
    if (missing) it->second.failed.push_back(write);
    if (it->second.failed.empty() && it->second.retrying == 0) {
      LOG_INFO("signald: call %s: who is in it is recorded again", call_id.c_str());
      unsettled_.erase(it);
    }
    d_.metrics.unsettled_calls = unsettled_.size();
  };
  bool queued = d_.call_log.submit(
      std::move(work), [done](Result<CallUpdate> r) { done(!r && r.error().code == kCallLogUnavailable); },
      CallLog::WhenFull::wait);
  if (!queued) done(true);
}

void Signaling::settle_calls() {
  std::vector<std::pair<std::string, PresenceWrite>> again;
  for (auto& [call_id, unsettled] : unsettled_) {
    if (unsettled.failed.empty() || joins_in_flight_.count(call_id)) continue;  // a join changes the room: later
    auto room = rooms_.find(call_id);
    for (PresenceWrite& w : unsettled.failed) {
      const Member* m = nullptr;
      if (room != rooms_.end())
        if (auto found = room->second.members.find(w.user); found != room->second.members.end()) m = &found->second;
      // Written again only while the room still says what it recorded: not
      // once the participant is back, nor the end once someone rejoined. A
      // drop before a leave also kept here goes first: its time stops there.
      bool wanted = w.kind == PresenceWrite::Kind::leave        ? !m
                    : w.kind == PresenceWrite::Kind::disconnect ? !m || !m->session
                                                                : room == rooms_.end();
      if (wanted) again.emplace_back(call_id, std::move(w));
    }
    unsettled.failed.clear();
  }
  // In the order they were first made: each call's leaves before its end.
  for (auto& [call_id, w] : again) record_presence(call_id, std::move(w), true);
  for (auto it = unsettled_.begin(); it != unsettled_.end();)
    it = it->second.failed.empty() && it->second.retrying == 0 ? unsettled_.erase(it) : std::next(it);
  d_.metrics.unsettled_calls = unsettled_.size();
}

void Signaling::relay(Session& s, const MessageParser::Message& m) {
  const json_t* rid = m.request_id.get();
  if (!s.room) return refuse(s, "ws_not_joined", "not_joined", "join a call first", rid);
  Room& room = s.room->second;
  RelayOut out = relay_message(m, s.call_id(), s.user);
  if (out.error) return refuse(s, "ws_invalid_message", "validation", out.error, rid);
  if (out.to) {
    auto target = room.members.find(*out.to);
    if (target == room.members.end() || !target->second.session || target->first == s.user)
      return refuse(s, "ws_participant_not_found", "participant_not_found",
                    "no such participant connected in this call", rid);
    target->second.session->link.send(out.text);
  } else {
    broadcast_text(room, out.text, s.user);
  }
}

void Signaling::quality_report(Session& s, const json_t* msg) {
  if (!s.room) return;
  Room& room = s.room->second;
  // Every report feeds the quality histograms, before sampling; a failed
  // media connection counts once per connection.
  d_.metrics.observe_quality(report_number(msg, "rttMs", 600000), report_number(msg, "jitterMs", 600000),
                             report_number(msg, "packetLoss", 1));
  if (json_string_field(msg, "connectionState") == "failed" && !s.media_failure_counted) {
    s.media_failure_counted = true;
    d_.metrics.count_call_failure("media_failed");
  }
  note_quality(s, msg);  // the live view sees every report, before sampling
  const SignalingSettings& cfg = d_.settings.signaling;
  int64_t now = d_.clock.monotonic_ms();
  // Sampled and bounded: browsers may report every second for hours.
  if (now - s.last_quality_ms < cfg.quality_sample_s * 1000 || room.quality_samples >= cfg.quality_samples_per_call) {
    d_.metrics.count_rejected("quality_report_sampled_out");
    return;
  }
  auto field = [&](const char* key, double scale, double max) -> std::optional<int64_t> {
    const json_t* v = json_object_get(msg, key);
    if (!json_is_number(v)) return std::nullopt;
    double d = json_number_value(v) * scale;
    if (!(d >= 0 && d <= max)) return std::nullopt;
    return static_cast<int64_t>(std::llround(d));
  };
  QualitySample q{field("rttMs", 1, 600000), field("jitterMs", 1, 600000), field("packetLoss", 1000, 1000),
                  field("bitrateKbps", 1, 10000000)};
  if (!q.rtt_ms && !q.jitter_ms && !q.packet_loss_permille && !q.bitrate_kbps) return;
  s.last_quality_ms = now;
  ++room.quality_samples;
  d_.call_log.record(
      [call_id = s.call_id(), actor = s.actor(), q](CallWriter& w) { return w.record_quality(call_id, actor, q); });
}

void Signaling::end_call(Session& s, const json_t* msg, const json_t* rid) {
  if (!s.room) return refuse(s, "ws_not_joined", "not_joined", "join a call first", rid);
  std::string reason = "hung_up";
  if (auto r = json_string_field(msg, "reason")) {
    if (!is_platform_id(*r) || r->size() > 64)
      return refuse(s, "ws_invalid_message", "validation", "reason must be a short code", rid);
    reason = *r;
  }
  if (!subject_allows(s, rid)) return;
  bool queued = d_.call_log.submit(
      [call_id = s.call_id(), actor = s.actor(), reason](CallWriter& w) { return w.end(call_id, actor, reason); },
      [this, session_id = s.id, request_id = retain(rid)](Result<CallUpdate> r) {
        // Success reaches the room through the observer (call_finished).
        auto it = sessions_.find(session_id);
        if (!r && r.error().code != kCallLogUnavailable) d_.metrics.count_rejected("ws_end_" + r.error().code);
        if (!r && it != sessions_.end())
          send_error(*it->second, signaling_code(r.error().code), end_error_message(r.error()), request_id.get());
      },
      CallLog::WhenFull::refuse);
  if (!queued) refuse(s, "ws_overloaded", "overloaded", "the call log is overloaded; retry", rid);
}

void Signaling::call_finished(const CallRecord& call, std::string_view ended_by) {
  std::optional<std::string> words;  // an operator's, when one ended it
  if (auto it = end_messages_.find(call.id); it != end_messages_.end()) {
    words = std::move(it->second);
    end_messages_.erase(it);
  }
  auto room = rooms_.find(call.id);
  if (room == rooms_.end()) return;
  JsonPtr note(message("call-ended"));
  json_put(note.get(), "callId", json_str(call.id));
  json_put(note.get(), "status", json_string(call_status_name(call.status)));
  json_put(note.get(), "reason", call.end_reason ? json_str(*call.end_reason) : nullptr);
  json_put(note.get(), "endedBy", json_str(ended_by));
  json_put(note.get(), "durationMs", call.duration_ms ? json_integer(*call.duration_ms) : nullptr);
  if (words) json_put(note.get(), "message", json_str(*words));
  broadcast(room->second, note.get(), "");
  for (auto& [user, member] : room->second.members) {
    if (member.session) member.session->room = nullptr;
    d_.turn.revoke(user + "@" + call.id);
  }
  rooms_.erase(room);
}

void Signaling::on_ws_closed(WsLink link) {
  auto* s = static_cast<Session*>(link.user());
  if (s->room) {
    Room& room = s->room->second;
    auto m = room.members.find(s->user);
    if (m != room.members.end() && m->second.session == s) {
      // The slot is kept for the grace period; time stops until it returns.
      m->second.session = nullptr;
      m->second.grace_until_ms = d_.clock.monotonic_ms() + d_.settings.signaling.reconnect_grace_s * 1000;
      m->second.reconnecting_since_ms = d_.clock.now_ms();
      record_presence(s->call_id(), {PresenceWrite::Kind::disconnect, s->user, s->role, "", d_.clock.now_ms()});
      JsonPtr note(message("participant-reconnecting"));
      json_put(note.get(), "callId", json_str(s->call_id()));
      json_put(note.get(), "userId", json_str(s->user));
      json_put(note.get(), "graceSeconds", json_integer(d_.settings.signaling.reconnect_grace_s));
      broadcast(room, note.get(), s->user);
    }
  }
  limits_.close_session(s->user, s->role);
  sessions_.erase(s->id);
  d_.metrics.ws_sessions = sessions_.size();
}

JsonPtr Signaling::ice_servers_message(const Session& s) {
  // Credentials minted for a call name it ("<user>@<call id>"): the TURN
  // plugin attributes usage to the call, and leaving the call revokes them.
  std::string turn_user = s.room ? s.user + "@" + s.call_id() : s.user;
  return ice_servers_json(d_.settings.ice, d_.turn.current_secret(), turn_user, d_.clock.now_s());
}

void Signaling::on_tick(evutil_socket_t, short, void* self) noexcept { static_cast<Signaling*>(self)->tick(); }

void Signaling::tick() {
  int64_t now = d_.clock.monotonic_ms();
  struct Expired {
    std::string call_id, user;
    Role role;
  };
  std::vector<Expired> expired;
  for (auto& [call_id, room] : rooms_) {
    // A join into the call being recorded may bring a member back, even one
    // whose connection has gone since (enter_room): the grace waits for it.
    bool joining = joins_in_flight_.count(call_id) > 0;
    for (auto it = room.members.begin(); it != room.members.end();) {
      Member& m = it->second;
      if (!m.session && now >= m.grace_until_ms && !joining) {
        expired.push_back({call_id, it->first, *m.role == "patient" ? Role::patient : Role::provider});
        it = room.members.erase(it);
        continue;
      }
      if (m.session && now >= m.session->ice_refresh_ms && d_.clock.now_s() < m.session->token_exp_s) {
        // Fresh TURN credentials before the current ones expire.
        JsonPtr push = ice_servers_message(*m.session);
        json_put(push.get(), "type", json_string("ice-servers"));
        send(*m.session, push.get());
        m.session->ice_refresh_ms = now + d_.settings.ice.ttl_s * 800;
      }
      ++it;
    }
  }
  // Every leave first, then each emptied room once: the all_left end comes
  // after all of them in the call log.
  for (const Expired& e : expired) member_gone(e.call_id, e.user, e.role, "timeout", false);
  for (const Expired& e : expired) close_room_if_empty(e.call_id);
  if (!unsettled_.empty() && now >= next_settle_ms_) {
    next_settle_ms_ = now + kSettleMs;
    settle_calls();
  }
}

}  // namespace vytal
