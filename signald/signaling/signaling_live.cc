// The admin's view of the rooms and its two actions on them (end a call,
// remove a participant), for signald's local channel (signald/internal/
// live_api.cc). Event loop only, like the rest of Signaling.
#include <algorithm>
#include <array>
#include <string_view>

#include "call_log/audit_record.h"
#include "common/json.h"
#include "common/log.h"
#include "signald/signaling/session.h"
#include "signald/signaling/signaling.h"

namespace vytal {
namespace {

// WebSocket close code of a participant an operator removed (RFC 6455 leaves
// 4000-4999 to applications; 4000 is "replaced").
constexpr uint16_t kWsCloseRemoved = 4001;

// A figure of a report when it is a number within [0, max]; -1 otherwise.
double figure(const json_t* msg, const char* key, double max) {
  const json_t* v = json_object_get(msg, key);
  if (!json_is_number(v)) return -1;
  double d = json_number_value(v);
  return d >= 0 && d <= max ? d : -1;
}

// A report's word when it is one of `allowed`; empty otherwise (what a client
// sends reaches the admin page only from these lists).
template <size_t N>
std::string word(const json_t* msg, const char* key, const std::array<std::string_view, N>& allowed) {
  auto v = json_string_field(msg, key);
  if (!v) return {};
  for (std::string_view a : allowed)
    if (*v == a) return std::string(a);
  return {};
}

constexpr std::array<std::string_view, 4> kCandidateTypes{"host", "srflx", "prflx", "relay"};
constexpr std::array<std::string_view, 2> kProtocols{"udp", "tcp"};
constexpr std::array<std::string_view, 3> kRelayProtocols{"udp", "tcp", "tls"};
constexpr std::array<std::string_view, 6> kConnectionStates{"new",          "connecting", "connected",
                                                            "disconnected", "failed",     "closed"};

json_t* number_or_null(double v) { return v < 0 ? json_null() : json_real(v); }

// The close frame's reason holds 123 bytes at most (RFC 6455 5.5.1); cut at
// a UTF-8 character boundary.
std::string close_reason(const std::string& reason) {
  std::string r = "removed by an operator: " + reason;
  if (r.size() <= 123) return r;
  return std::string(utf8_prefix(r, 120)) + "...";
}

}  // namespace

void Signaling::note_quality(Session& s, const json_t* msg) {
  if (!s.room) return;
  Members& members = s.room->second.members;
  auto m = members.find(s.user);
  if (m == members.end() || m->second.session != &s) return;
  if (!m->second.media) m->second.media = std::make_unique<MediaReport>();
  MediaReport& media = *m->second.media;
  QualityPoint q;
  q.at_ms = d_.clock.now_ms();
  q.rtt_ms = figure(msg, "rttMs", 600000);
  q.jitter_ms = figure(msg, "jitterMs", 600000);
  q.packet_loss = figure(msg, "packetLoss", 1);
  q.bitrate_kbps = figure(msg, "bitrateKbps", 10000000);
  if (media.quality.size() >= kQualityHistory)
    media.quality.erase(media.quality.begin(), media.quality.end() - (kQualityHistory - 1));
  media.quality.push_back(q);
  // A report without a pair (no media yet) keeps the previous one's.
  if (std::string local = word(msg, "localCandidateType", kCandidateTypes); !local.empty()) {
    media.local_candidate = local;
    media.remote_candidate = word(msg, "remoteCandidateType", kCandidateTypes);
    media.protocol = word(msg, "protocol", kProtocols);
    media.relay_protocol = local == "relay" ? word(msg, "relayProtocol", kRelayProtocols) : "";
  }
  media.connection_state = word(msg, "connectionState", kConnectionStates);
}

JsonPtr Signaling::live_json(const TurnOf& turn_of, size_t max_calls, const std::string& pinned) const {
  JsonPtr calls(json_array());
  // The view is built on the event loop in one go: listing every call would
  // hold relaying up for as long (150 ms and 5 MB for 1,000 calls with their
  // history, bench/live_view.mjs). The pinned call comes first, then the
  // calls that need attention, then the rest, each by id (uuid v7: oldest
  // first). Needing attention: someone is away (reconnecting), or their
  // browser's latest report is poor (the admin page's thresholds: RTT over
  // 400 ms, loss over 5 %, jitter over 50 ms) or says the media connection
  // failed or dropped.
  auto needs_attention = [](const Room& room) {
    for (const auto& [user, m] : room.members) {
      if (!m.session) return true;
      if (!m.media) continue;
      if (m.media->connection_state == "failed" || m.media->connection_state == "disconnected") return true;
      const QualityPoint& q = m.media->quality.back();
      if (q.rtt_ms > 400 || q.packet_loss > 0.05 || q.jitter_ms > 50) return true;
    }
    return false;
  };
  struct Listed {
    int rank;  // 0 pinned, 1 needs attention, 2 the rest
    const std::string* id;
    const Room* room;
  };
  std::vector<Listed> order;
  order.reserve(rooms_.size());
  for (const auto& [id, room] : rooms_) order.push_back({id == pinned ? 0 : needs_attention(room) ? 1 : 2, &id, &room});
  auto first = [](const Listed& a, const Listed& b) { return a.rank != b.rank ? a.rank < b.rank : *a.id < *b.id; };
  size_t shown = std::min(max_calls, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(), first);
  order.resize(shown);
  for (const auto& [rank, id, room_ptr] : order) {
    const Room& room = *room_ptr;
    json_t* call = json_object();
    json_put(call, "callId", json_str(*id));
    json_put(call, "active", json_boolean(room.active));
    json_t* members = json_array();
    for (const auto& [user, m] : room.members) {
      json_t* j = json_object();
      json_put(j, "userId", json_str(user));
      json_put(j, "role", json_str(*m.role));
      json_put(j, "state", json_string(m.session ? "connected" : "reconnecting"));
      json_put(j, "connectedSince", m.connected_since_ms ? json_integer(m.connected_since_ms) : json_null());
      json_put(j, "reconnectingSince", m.session ? json_null() : json_integer(m.reconnecting_since_ms));
      json_put(j, "address", m.session ? json_str(m.session->remote_addr) : json_null());
      if (!m.media) {
        json_put(j, "quality", json_null());
      } else {
        const MediaReport& media = *m.media;
        const QualityPoint& q = media.quality.back();
        json_t* latest = json_object();
        json_put(latest, "at", json_integer(q.at_ms));
        json_put(latest, "rttMs", number_or_null(q.rtt_ms));
        json_put(latest, "jitterMs", number_or_null(q.jitter_ms));
        json_put(latest, "packetLoss", number_or_null(q.packet_loss));
        json_put(latest, "bitrateKbps", number_or_null(q.bitrate_kbps));
        auto opt = [](const std::string& s) { return s.empty() ? json_null() : json_str(s); };
        json_put(latest, "localCandidateType", opt(media.local_candidate));
        json_put(latest, "remoteCandidateType", opt(media.remote_candidate));
        json_put(latest, "protocol", opt(media.protocol));
        json_put(latest, "relayProtocol", opt(media.relay_protocol));
        json_put(latest, "connectionState", opt(media.connection_state));
        json_put(j, "quality", latest);
      }
      json_t* history = json_array();
      if (m.media) {
        for (const QualityPoint& q : m.media->quality) {
          json_t* p = json_object();
          json_put(p, "at", json_integer(q.at_ms));
          json_put(p, "bitrateKbps", number_or_null(q.bitrate_kbps));
          json_put(p, "packetLoss", number_or_null(q.packet_loss));
          json_put(p, "rttMs", number_or_null(q.rtt_ms));
          json_array_append_new(history, p);
        }
      }
      json_put(j, "history", history);
      json_put(j, "turn", turn_of ? turn_of(*id, user) : json_array());
      json_array_append_new(members, j);
    }
    json_put(call, "members", members);
    json_array_append_new(calls.get(), call);
  }
  return calls;
}

bool Signaling::admin_end(const std::string& call_id, AuditRecord audit, std::string message, AdminDone done) {
  Actor actor{audit.actor_id, Role::admin, audit.remote_addr};
  // Before the commit: the observer sends call-ended as soon as it commits.
  std::string previous = end_messages_.count(call_id) ? end_messages_[call_id] : std::string();
  end_messages_[call_id] = std::move(message);
  bool queued = d_.call_log.submit(
      [call_id, actor, audit = std::move(audit)](CallWriter& w) -> Result<CallUpdate> {
        auto r = w.end(call_id, actor, "ended_by_operator");
        if (r && !w.record_audit(audit)) return Error{"db_error", "the audit record could not be written"};
        return r;
      },
      [this, call_id, done = std::move(done)](Result<CallUpdate> r) {
        if (!r) end_messages_.erase(call_id);  // nothing will send it
        done(std::move(r));
      },
      CallLog::WhenFull::refuse);
  if (!queued) {
    if (previous.empty())
      end_messages_.erase(call_id);
    else
      end_messages_[call_id] = previous;
  }
  return queued;
}

bool Signaling::admin_remove(const std::string& call_id, const std::string& user, std::string reason, AuditRecord audit,
                             AdminDone done) {
  std::string by = audit.actor_id;
  return d_.call_log.submit(
      [call_id, user, audit = std::move(audit)](CallWriter& w) { return w.remove(call_id, user, audit); },
      [this, call_id, user, by, reason = std::move(reason), done = std::move(done)](Result<CallUpdate> r) {
        if (r) removed(call_id, user, by, reason);
        done(std::move(r));
      },
      CallLog::WhenFull::refuse);
}

void Signaling::removed(const std::string& call_id, const std::string& user, const std::string& by,
                        const std::string& reason) {
  d_.turn.revoke(user + "@" + call_id);  // the plugin refuses its requests and ends its allocations
  LOG_INFO("signaling: participant removed by an operator call=%s user=%s operator=%s", call_id.c_str(), user.c_str(),
           by.c_str());
  auto room = rooms_.find(call_id);
  if (room == rooms_.end()) return;
  auto m = room->second.members.find(user);
  if (m != room->second.members.end()) {
    if (Session* s = m->second.session) {
      JsonPtr note(json_object());
      json_put(note.get(), "type", json_string("removed"));
      json_put(note.get(), "callId", json_str(call_id));
      json_put(note.get(), "reason", json_str(reason));
      send(*s, note.get());
      s->room = nullptr;  // not "reconnecting" when the close completes
      s->link.close(kWsCloseRemoved, close_reason(reason));
    }
    room->second.members.erase(m);
  }
  JsonPtr left(json_object());
  json_put(left.get(), "type", json_string("participant-left"));
  json_put(left.get(), "callId", json_str(call_id));
  json_put(left.get(), "userId", json_str(user));
  json_put(left.get(), "reason", json_string("removed"));
  broadcast(room->second, left.get(), user);
  close_room_if_empty(call_id);
}

}  // namespace vytal
