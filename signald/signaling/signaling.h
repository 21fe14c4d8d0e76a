// WebSocket signaling (/webrtc/ws): authenticated connections, call rooms,
// relaying of offers, answers and ICE candidates, reconnection within a grace
// period, and everything that matters recorded in the call log. Runs on the
// event loop; joins, leaves and ends are committed (CallLog) before anyone is
// told. The JSON protocol is documented in docs/PROTOCOL.md.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "call_log/call_log.h"
#include "common/clock.h"
#include "common/handles.h"
#include "common/jwt.h"
#include "http/http_server.h"
#include "signald/metrics.h"
#include "signald/signald_config.h"
#include "signald/signaling/relay_message.h"
#include "signald/subject_limits.h"
#include "signald/turn_link.h"

namespace vytal {

struct SignalingDeps {
  const SignaldSettings& settings;
  const JwtVerifier& jwt;
  CallLog& call_log;
  Metrics& metrics;
  const Clock& clock;
  event_base* base;
  TurnLink& turn;
};

class Signaling final : public WsHandler {
 public:
  explicit Signaling(SignalingDeps deps);
  ~Signaling() override;

  // GET /webrtc/ws: checks the handshake (Origin, version, key) and the JWT
  // before upgrading; a refusal is answered with an HTTP error and no 101.
  void accept(HttpRequest& request, Responder responder);

  void on_ws_message(WsLink link, std::string_view text) override;
  void on_ws_closed(WsLink link) override;
  // Pings and pongs are charged to the connection's message rate.
  bool on_ws_control(WsLink link) override;

  size_t sessions() const { return sessions_.size(); }
  // Per-subject write rates and session caps, shared with the REST API.
  SubjectLimits& limits() { return limits_; }

  // The once-a-second work: grace deadlines, ICE refresh. Its timer calls it;
  // tests call it after advancing their clock.
  void tick();

  // --- the admin's view and actions (signaling_live.cc; the local channel's
  // GET /internal/live and POST /internal/calls/...) ---
  // At most max_calls rooms now: `pinned` (a call id, or empty) first, then
  // those needing attention, then the rest, each by id:
  // {"callId","active","members":[{userId, role, state
  // (connected|reconnecting), connectedSince, reconnectingSince, address,
  // quality: latest report or null, history: [{at, bitrateKbps, packetLoss,
  // rttMs}] (the last 30), turn: turn_of(call, user)}]}. room_count() says
  // how many there are in all.
  using TurnOf = std::function<json_t*(const std::string& call_id, const std::string& user)>;
  JsonPtr live_json(const TurnOf& turn_of, size_t max_calls, const std::string& pinned) const;
  size_t room_count() const { return rooms_.size(); }
  using AdminDone = std::function<void(Result<CallUpdate>)>;
  // Ends the call for everyone (reason code ended_by_operator); the room's
  // call-ended carries the operator's words as `message`. The audit record
  // is written in the same transaction. False when the call log refused it.
  bool admin_end(const std::string& call_id, AuditRecord audit, std::string message, AdminDone done);
  // Removes one participant once committed (CallWriter::remove): its TURN
  // credentials are revoked (the plugin ends its allocations), its
  // connection gets `removed` and is closed with code 4001, the others get
  // participant-left (reason removed), and it cannot join this call again.
  bool admin_remove(const std::string& call_id, const std::string& user, std::string reason, AuditRecord audit,
                    AdminDone done);

 private:
  struct Session;
  // One quality report of a member, as the client measured it (-1: absent).
  struct QualityPoint {
    int64_t at_ms = 0;  // wall clock
    double rtt_ms = -1, jitter_ms = -1, packet_loss = -1, bitrate_kbps = -1;
  };
  static constexpr size_t kQualityHistory = 30;
  // What a member's browser last reported about its media (quality-report),
  // for the admin's live view.
  struct MediaReport {
    std::vector<QualityPoint> quality;  // the last kQualityHistory reports, oldest first
    // The selected candidate pair of the latest report: host|srflx|prflx|relay,
    // udp|tcp, and the relayed leg's protocol (udp|tcp|tls) when relayed.
    std::string local_candidate, remote_candidate, protocol, relay_protocol, connection_state;
  };
  struct Member {
    const std::string* role = nullptr;  // one of role_names_
    Session* session = nullptr;         // null while reconnecting
    int64_t grace_until_ms = 0;
    int64_t connected_since_ms = 0;     // wall clock, the current connection's join
    int64_t reconnecting_since_ms = 0;  // wall clock, 0 while connected
    // Made at the member's first report: memory per joined connection is a
    // target (docs/BENCHMARKS.md), and a waiting participant sends none.
    std::unique_ptr<MediaReport> media;
  };
  // By user id; found by a view of one too (the relay's `to`).
  using Members = std::map<std::string, Member, std::less<>>;
  struct Room {
    Members members;
    bool active = false;
    int quality_samples = 0;
  };
  using RoomEntry = std::unordered_map<std::string, Room>::value_type;  // a call id and its room

  static void on_tick(evutil_socket_t, short, void* self) noexcept;
  // The participants a previous run left in calls get the grace period to
  // come back; those who do not are timed out as usual (an active call they
  // all left ends, all_left).
  void adopt_stranded(const std::vector<StrandedParticipant>& stranded);
  void send_error(Session& s, std::string_view code, std::string_view message, const json_t* request_id);
  // A refused request: counted (vytal_rejected_total{reason}), then the error.
  void refuse(Session& s, const std::string& reason, std::string_view code, std::string_view message,
              const json_t* request_id);
  void send(Session& s, const json_t* message);
  void broadcast(Room& room, const json_t* message, const std::string& except_user);
  void broadcast_text(Room& room, const std::string& text, const std::string& except_user);
  bool rate_allows(Session& s);
  // Charges the subject's write rate; false (error rate_limited sent) over it.
  bool subject_allows(Session& s, const json_t* request_id);

  void join(Session& s, const json_t* msg, const json_t* request_id);
  void enter_room(uint64_t session_id, const Actor& actor, const CallUpdate& update, const json_t* request_id);
  void leave(Session& s, const json_t* request_id);
  void relay(Session& s, const MessageParser::Message& message);
  void quality_report(Session& s, const json_t* msg);
  void end_call(Session& s, const json_t* msg, const json_t* request_id);
  // A participant's slot is given up (left, or its grace period ran out).
  void member_gone(const std::string& call_id, const std::string& user, Role role, std::string_view reason,
                   bool close_room = true);
  void close_room_if_empty(const std::string& call_id);
  // Who is in a call (a leave, a drop, the all_left end) is told to the room
  // at once and recorded after, with the time it happened. A write of it the
  // call log cannot commit is kept in unsettled_, and written again (`again`)
  // by settle_calls, every kSettleMs from tick(), while the room still says
  // what it recorded.
  struct PresenceWrite {
    enum class Kind { leave, disconnect, all_left } kind;
    std::string user;  // empty for all_left
    Role role;
    std::string reason;  // a leave's: left, timeout
    int64_t at_ms;       // wall clock, when it happened
  };
  void record_presence(const std::string& call_id, PresenceWrite write, bool again = false);
  void settle_calls();
  // A call ended or was cancelled (however: the call log's observer): tell its room.
  void call_finished(const CallRecord& call, std::string_view ended_by);
  // After a committed removal: what admin_remove promises.
  void removed(const std::string& call_id, const std::string& user, const std::string& by, const std::string& reason);
  void note_quality(Session& s, const json_t* msg);
  JsonPtr ice_servers_message(const Session& s);

  SignalingDeps d_;
  MessageParser messages_;
  SubjectLimits limits_;
  EventPtr tick_;
  uint64_t next_session_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
  std::unordered_map<std::string, Room> rooms_;  // by call id
  // The participant roles members have (the REST API allows six), each held
  // once: a member points at its role's name.
  std::set<std::string> role_names_;
  const std::string* role_named(const std::string& role) { return &*role_names_.insert(role).first; }
  struct Unsettled {
    std::vector<PresenceWrite> failed;  // not recorded; written again at the next settle_calls
    int retrying = 0;                   // written again, not committed yet
  };
  std::map<std::string, Unsettled> unsettled_;  // by call id
  int64_t next_settle_ms_ = 0;
  // Joins being recorded, by call id: its connection may go before one is.
  std::unordered_map<std::string, int> joins_in_flight_;
  // An operator's words for a call it is ending, until call-ended is sent.
  std::unordered_map<std::string, std::string> end_messages_;
};

}  // namespace vytal
