// Signaling's timers driven by an injected clock: the reconnect grace, the
// per-connection message rate, the ICE credentials' refresh and the end of a
// call everyone left. A real HttpServer on a loopback port, a real call log
// in a temporary directory, and a minimal WebSocket client (RFC 6455 frames,
// masked with a zero key) in the test; the clock moves only when a test
// moves it, so nothing waits out a timer.
#include "signald/signaling/signaling.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "call_log/call_log.h"
#include "common/json.h"
#include "common/jwt.h"
#include "common/sqlite.h"
#include "http/http_server.h"
#include "signald/metrics.h"
#include "signald/turn_link.h"

namespace vytal {
namespace {

constexpr char kSecret[] = "signaling-test-secret-0123456789abcdef";

// One WebSocket client on a non-blocking socket; the test pumps the loop.
struct Client {
  int fd = -1;
  std::string in;  // bytes received, not yet parsed
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
  void drop() {
    ::close(fd);
    fd = -1;
  }
};

class SignalingTest : public ::testing::Test {
 protected:
  ManualClock clock_{1'800'000'000'000};
  std::filesystem::path dir_;
  SignaldSettings settings_;
  EventBasePtr base_;
  Metrics metrics_;
  std::optional<JwtVerifier> jwt_;
  std::unique_ptr<CallLog> log_;
  std::unique_ptr<TurnLink> turn_;
  std::unique_ptr<Signaling> signaling_;
  std::unique_ptr<HttpServer> server_;

  void SetUp() override {
    evthread_use_pthreads();
    dir_ = std::filesystem::temp_directory_path() / ("vytal-signaling-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    settings_.jwt.secret = kSecret;
    settings_.call_log.db_path = (dir_ / "calls.db").string();
    settings_.signaling.reconnect_grace_s = 30;
    settings_.ice.turn_urls = {"turn:127.0.0.1:3478"};
    settings_.ice.turn_secret = "turn-secret";
    settings_.ice.revoked_path = (dir_ / "revoked").string();
    settings_.ice.ttl_s = 600;
  }

  void Start() {
    base_.reset(event_base_new());
    auto jwt = JwtVerifier::create(settings_.jwt);
    ASSERT_TRUE(jwt) << jwt.error().message;
    jwt_.emplace(std::move(jwt.value()));
    auto log = CallLog::open(base_.get(), settings_.call_log, clock_, metrics_.commits, [](const char*) {});
    ASSERT_TRUE(log) << log.error().message;
    log_ = std::move(log.value());
    const IceSettings& ice = settings_.ice;
    turn_ = std::make_unique<TurnLink>(
        base_.get(), TurnLinkOptions{ice.turn_secret, "", ice.revoked_path, "", ice.ttl_s}, *log_, metrics_, clock_);
    signaling_ =
        std::make_unique<Signaling>(SignalingDeps{settings_, *jwt_, *log_, metrics_, clock_, base_.get(), *turn_});
    server_ = std::make_unique<HttpServer>(
        base_.get(), settings_.http, metrics_,
        [this](HttpRequest& request, Responder responder) { signaling_->accept(request, std::move(responder)); });
    std::string error;
    ASSERT_TRUE(server_->start(&error)) << error;
  }

  void TearDown() override {
    server_.reset();
    signaling_.reset();
    turn_.reset();
    log_.reset();
    base_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs the loop until `done` holds; the commit thread answers within a
  // moment (this waits for a thread, never for a timer).
  template <typename Pred>
  bool PumpUntil(Pred done) {
    for (int i = 0; i < 5000; ++i) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  void Pump() {
    for (int i = 0; i < 20; ++i) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  std::string Token(const std::string& sub, const std::string& role) {
    JsonPtr claims(json_object());
    json_put(claims.get(), "sub", json_str(sub));
    json_put(claims.get(), "role", json_str(role));
    json_put(claims.get(), "exp", json_integer(clock_.now_s() + 3600));
    return jwt_sign_hs256(kSecret, claims.get());
  }

  std::string CreateCall(const std::string& patient, const std::string& provider) {
    std::string id;
    NewCall call{patient, provider, "video", std::nullopt, std::nullopt};
    Actor service{"platform", Role::service, "127.0.0.1"};
    log_->submit([call, service](CallWriter& w) { return w.create(call, service); },
                 [&id](Result<CallUpdate> r) { id = r ? r->call.id : "failed: " + r.error().message; },
                 CallLog::WhenFull::refuse);
    EXPECT_TRUE(PumpUntil([&] { return !id.empty(); }));
    return id;
  }

  std::unique_ptr<Client> Connect(const std::string& sub, const std::string& role) {
    auto c = std::make_unique<Client>();
    c->fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::fcntl(c->fd, F_SETFL, O_NONBLOCK);
    std::string request =
        "GET /webrtc/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: vytal.v1, bearer." +
        Token(sub, role) + "\r\n\r\n";
    EXPECT_EQ(::write(c->fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    EXPECT_TRUE(PumpUntil([&] {
      Read(*c);
      return c->in.find("\r\n\r\n") != std::string::npos;
    }));
    EXPECT_EQ(c->in.rfind("HTTP/1.1 101", 0), 0u) << c->in;
    c->in.erase(0, c->in.find("\r\n\r\n") + 4);
    return c;
  }

  static void Read(Client& c) {
    char buf[65536];
    ssize_t n;
    while (c.fd >= 0 && (n = ::read(c.fd, buf, sizeof buf)) > 0) c.in.append(buf, static_cast<size_t>(n));
  }

  // A client's text frame: FIN + text, masked with the key 0 (RFC 6455 5.3).
  static void Send(Client& c, const std::string& text) {
    std::string frame = "\x81";
    if (text.size() < 126) {
      frame += static_cast<char>(0x80 | text.size());
    } else {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(text.size() >> 8);
      frame += static_cast<char>(text.size() & 0xff);
    }
    frame.append(4, '\0');
    frame += text;
    ASSERT_EQ(::write(c.fd, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  }

  // The next whole text message the server sent, if one has arrived.
  static std::optional<std::string> Parse(Client& c) {
    if (c.in.size() < 2) return std::nullopt;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(c.in[i]); };
    size_t len = byte(1) & 0x7f, at = 2;
    if (len == 126) {
      if (c.in.size() < 4) return std::nullopt;
      len = (size_t{byte(2)} << 8) | byte(3);
      at = 4;
    }
    if (c.in.size() < at + len) return std::nullopt;
    std::string payload = c.in.substr(at, len);
    uint8_t opcode = byte(0) & 0x0f;
    c.in.erase(0, at + len);
    if (opcode != 1) return Parse(c);  // pings and closes are not what the tests look for
    return payload;
  }

  // Messages of `type` the client received until now (after pumping).
  std::vector<JsonPtr> Received(Client& c, const std::string& type) {
    Pump();
    Read(c);
    std::vector<JsonPtr> out;
    while (auto text = Parse(c)) {
      std::string error;
      JsonPtr m = json_parse(*text, &error);
      if (m && json_string_field(m.get(), "type").value_or("") == type) out.push_back(std::move(m));
    }
    return out;
  }

  // Waits for one message of `type` (the commit thread may still be working).
  JsonPtr Await(Client& c, const std::string& type) {
    JsonPtr found;
    PumpUntil([&] {
      Read(c);
      while (auto text = Parse(c)) {
        std::string error;
        JsonPtr m = json_parse(*text, &error);
        if (m && json_string_field(m.get(), "type").value_or("") == type) {
          found = std::move(m);
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // Control frames of `opcode` (0x9 ping, 0xA pong) the client received;
  // text messages before them are skipped.
  static int CountControl(Client& c, uint8_t opcode) {
    int n = 0;
    while (c.in.size() >= 2) {
      size_t len = static_cast<uint8_t>(c.in[1]) & 0x7f, at = 2;
      if (len == 126) {
        if (c.in.size() < 4) break;
        len = (size_t{static_cast<uint8_t>(c.in[2])} << 8) | static_cast<uint8_t>(c.in[3]);
        at = 4;
      }
      if (c.in.size() < at + len) break;
      n += (static_cast<uint8_t>(c.in[0]) & 0x0f) == opcode;
      c.in.erase(0, at + len);
    }
    return n;
  }

  // A client's ping (FIN + ping, empty, masked with the key 0).
  static void Ping(Client& c) {
    static const char kPing[] = {'\x89', '\x80', 0, 0, 0, 0};
    ASSERT_EQ(::write(c.fd, kPing, sizeof kPing), static_cast<ssize_t>(sizeof kPing));
  }

  // The status line of an upgrade attempt that may be refused.
  std::string TryConnect(const std::string& sub, const std::string& role, std::unique_ptr<Client>* out) {
    auto c = std::make_unique<Client>();
    c->fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::fcntl(c->fd, F_SETFL, O_NONBLOCK);
    std::string request =
        "GET /webrtc/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: vytal.v1, bearer." +
        Token(sub, role) + "\r\n\r\n";
    EXPECT_EQ(::write(c->fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    PumpUntil([&] {
      Read(*c);
      return c->in.find("\r\n\r\n") != std::string::npos;
    });
    std::string status = c->in.substr(0, c->in.find("\r\n"));
    c->in.erase(0, c->in.find("\r\n\r\n") + 4);
    *out = std::move(c);
    return status;
  }

  void Join(Client& c, const std::string& call_id) {
    Send(c, R"({"type":"join","callId":")" + call_id + R"("})");
    ASSERT_TRUE(Await(c, "joined")) << "no joined for " << call_id;
  }

  // Makes the call log fail every write that moves a participant to `status`
  // (as a full disk would: the transaction is rolled back), or with an empty
  // status takes that back; through a connection of the test's own.
  void FailParticipantWritesTo(const std::string& status) {
    auto db = sqlite_open(settings_.call_log.db_path, SqliteOpenOptions{});
    ASSERT_TRUE(db) << db.error().message;
    std::string sql = "DROP TRIGGER IF EXISTS test_fail;";
    if (!status.empty())
      sql += "CREATE TRIGGER test_fail BEFORE UPDATE ON call_participants WHEN NEW.status = '" + status +
             "' BEGIN SELECT RAISE(ABORT, 'the test refuses this write'); END;";
    std::string error;
    ASSERT_TRUE(sqlite_exec(db.value().get(), sql.c_str(), &error)) << error;
  }

  // The participant's status in the call log.
  std::string ParticipantStatus(const std::string& call_id, const std::string& user) {
    auto call = log_->reader().get(call_id);
    if (!call || !call.value()) return "?";
    for (const ParticipantRecord& p : call.value()->participants)
      if (p.user_id == user) return p.status;
    return "none";
  }

  // A call its patient and provider have both joined, each on its own connection.
  struct InCall {
    std::string id;
    std::unique_ptr<Client> patient, provider;
  };
  InCall StartCall(const std::string& patient, const std::string& provider) {
    InCall c{CreateCall(patient, provider), Connect(patient, "patient"), Connect(provider, "provider")};
    Join(*c.patient, c.id);
    Join(*c.provider, c.id);
    return c;
  }

  std::string Status(const std::string& call_id) {
    auto call = log_->reader().get(call_id);
    return call && call.value() ? call_status_name(call.value()->status) : "?";
  }
};

TEST_F(SignalingTest, ADroppedParticipantKeepsItsSlotForTheGraceThenLeaves) {
  Start();
  InCall in_call = StartCall("pat-1", "prov-1");
  const std::string id = in_call.id;
  auto &patient = in_call.patient, &provider = in_call.provider;
  ASSERT_EQ(Status(id), "active");

  patient->drop();
  ASSERT_TRUE(Await(*provider, "participant-reconnecting"));
  clock_.advance_ms(29'000);
  signaling_->tick();
  EXPECT_TRUE(Received(*provider, "participant-left").empty()) << "left before the grace ran out";

  clock_.advance_ms(2'000);
  signaling_->tick();
  JsonPtr left = Await(*provider, "participant-left");
  ASSERT_TRUE(left);
  EXPECT_EQ(json_string_field(left.get(), "userId").value_or(""), "pat-1");
  EXPECT_EQ(json_string_field(left.get(), "reason").value_or(""), "timeout");
  // Its TURN credentials for the call are revoked with its place (written by
  // the revocations file's own thread: wait for it).
  turn_->revocations()->flush();
  std::ifstream revoked(settings_.ice.revoked_path);
  std::stringstream text;
  text << revoked.rdbuf();
  EXPECT_NE(text.str().find("pat-1@" + id), std::string::npos) << text.str();
}

TEST_F(SignalingTest, RejoiningWithinTheGraceTakesTheSlotBack) {
  Start();
  InCall in_call = StartCall("pat-2", "prov-2");
  const std::string id = in_call.id;
  auto &patient = in_call.patient, &provider = in_call.provider;
  patient->drop();
  ASSERT_TRUE(Await(*provider, "participant-reconnecting"));
  clock_.advance_ms(20'000);
  signaling_->tick();

  auto again = Connect("pat-2", "patient");
  Join(*again, id);
  JsonPtr back = Await(*provider, "participant-joined");
  ASSERT_TRUE(back);
  EXPECT_TRUE(json_is_true(json_object_get(back.get(), "reconnected")));
  clock_.advance_ms(60'000);  // far past the first drop's grace
  signaling_->tick();
  EXPECT_TRUE(Received(*provider, "participant-left").empty()) << "the first drop counted against the new session";
  EXPECT_EQ(Status(id), "active");
}

TEST_F(SignalingTest, EveryoneGoneEndsTheCallAllLeft) {
  Start();
  InCall in_call = StartCall("pat-3", "prov-3");
  const std::string id = in_call.id;
  auto &patient = in_call.patient, &provider = in_call.provider;
  patient->drop();
  provider->drop();
  Pump();
  clock_.advance_ms(31'000);
  signaling_->tick();
  ASSERT_TRUE(PumpUntil([&] { return Status(id) == "ended"; })) << Status(id);
  auto call = log_->reader().get(id);
  ASSERT_TRUE(call && call.value());
  EXPECT_EQ(call.value()->end_reason.value_or(""), "all_left");
}

// A leave is told to the room at once and recorded after: when the call log
// cannot take it (and so the all_left end after it), the call is compared
// with its room until its record says what the room knows.
TEST_F(SignalingTest, LeavesTheCallLogCouldNotTakeAreWrittenAgainWithTheirTime) {
  Start();
  InCall in_call = StartCall("pat-7", "prov-7");
  const std::string id = in_call.id;
  auto &patient = in_call.patient, &provider = in_call.provider;
  FailParticipantWritesTo("left");
  const int64_t left_at = clock_.now_ms();
  Send(*patient, R"({"type":"leave"})");
  ASSERT_TRUE(Await(*patient, "left"));
  ASSERT_TRUE(Await(*provider, "participant-left"));
  Send(*provider, R"({"type":"leave"})");
  ASSERT_TRUE(Await(*provider, "left"));
  ASSERT_TRUE(PumpUntil([&] { return metrics_.unsettled_calls == 1; })) << "the failed writes went unnoticed";
  EXPECT_EQ(Status(id), "active");
  EXPECT_EQ(ParticipantStatus(id, "pat-7"), "joined");

  // Still failing: written again, still unsettled.
  clock_.advance_ms(5'000);
  signaling_->tick();
  Pump();
  EXPECT_EQ(Status(id), "active");
  EXPECT_EQ(metrics_.unsettled_calls, 1u);

  FailParticipantWritesTo("");
  // Written again at the next settle once the retries still in flight (on a
  // slow build, those of the round above) are back: let the clock run on.
  ASSERT_TRUE(PumpUntil([&] {
    clock_.advance_ms(5'000);
    signaling_->tick();
    return Status(id) == "ended";
  })) << Status(id);
  auto call = log_->reader().get(id);
  ASSERT_TRUE(call && call.value());
  EXPECT_EQ(call.value()->end_reason.value_or(""), "all_left");
  EXPECT_EQ(ParticipantStatus(id, "pat-7"), "left");
  EXPECT_EQ(ParticipantStatus(id, "prov-7"), "left");
  // Recorded with the time they happened, not the time they were written.
  EXPECT_EQ(call.value()->ended_at.value_or(0), left_at);
  for (const ParticipantRecord& p : call.value()->participants) EXPECT_EQ(p.left_at.value_or(0), left_at) << p.user_id;
  EXPECT_TRUE(PumpUntil([&] { return metrics_.unsettled_calls == 0; })) << "a settled call stayed unsettled";
}

// A participant whose grace ran out while the call log could not take its
// leave: written again with its reason (timeout) and its time.
TEST_F(SignalingTest, ATimeoutWrittenAgainKeepsItsReasonAndTime) {
  Start();
  InCall in_call = StartCall("pat-9", "prov-9");
  const std::string id = in_call.id;
  auto &patient = in_call.patient, &provider = in_call.provider;
  patient->drop();
  ASSERT_TRUE(Await(*provider, "participant-reconnecting"));
  ASSERT_TRUE(PumpUntil([&] { return ParticipantStatus(id, "pat-9") == "reconnecting"; }));
  FailParticipantWritesTo("left");
  clock_.advance_ms(31'000);
  const int64_t timed_out_at = clock_.now_ms();
  signaling_->tick();
  ASSERT_TRUE(Await(*provider, "participant-left"));
  ASSERT_TRUE(PumpUntil([&] { return metrics_.unsettled_calls == 1; }));

  FailParticipantWritesTo("");
  clock_.advance_ms(5'000);
  signaling_->tick();
  ASSERT_TRUE(PumpUntil([&] { return ParticipantStatus(id, "pat-9") == "left"; })) << ParticipantStatus(id, "pat-9");
  EXPECT_EQ(Status(id), "active") << "the provider is still in it";
  auto db = sqlite_open(settings_.call_log.db_path, SqliteOpenOptions{});
  ASSERT_TRUE(db);
  Statement ev(db.value().get(),
               "SELECT detail, occurred_at FROM call_events WHERE call_id = ? AND type = 'participant_left'");
  ev.bind(1, id);
  ASSERT_EQ(ev.step(), SQLITE_ROW);
  EXPECT_EQ(ev.text(0), R"({"reason":"timeout"})");
  EXPECT_EQ(ev.integer(1), timed_out_at);
  EXPECT_TRUE(PumpUntil([&] { return metrics_.unsettled_calls == 0; }));
}

// A drop the call log could not take is written again while the dropped
// participant is within its grace; the call goes on.
TEST_F(SignalingTest, ADropTheCallLogCouldNotTakeIsWrittenAgain) {
  Start();
  InCall in_call = StartCall("pat-8", "prov-8");
  const std::string id = in_call.id;
  auto &patient = in_call.patient, &provider = in_call.provider;
  FailParticipantWritesTo("reconnecting");
  const int64_t dropped_at = clock_.now_ms();
  patient->drop();
  ASSERT_TRUE(Await(*provider, "participant-reconnecting"));
  ASSERT_TRUE(PumpUntil([&] { return metrics_.unsettled_calls == 1; }));
  EXPECT_EQ(ParticipantStatus(id, "pat-8"), "joined");

  FailParticipantWritesTo("");
  clock_.advance_ms(5'000);
  signaling_->tick();
  EXPECT_TRUE(PumpUntil([&] { return ParticipantStatus(id, "pat-8") == "reconnecting"; }))
      << ParticipantStatus(id, "pat-8");
  auto call = log_->reader().get(id);
  ASSERT_TRUE(call && call.value());
  for (const ParticipantRecord& p : call.value()->participants) {
    if (p.user_id == "pat-8") {
      EXPECT_EQ(p.left_at.value_or(0), dropped_at) << "its time in the call ran on";
    }
  }
  EXPECT_EQ(ParticipantStatus(id, "prov-8"), "joined");
  EXPECT_EQ(Status(id), "active");
  EXPECT_TRUE(PumpUntil([&] { return metrics_.unsettled_calls == 0; }));
  EXPECT_TRUE(Received(*provider, "participant-left").empty()) << "the grace was cut short";
}

// A participant back within its grace whose join is still being recorded
// when the grace runs out is not timed out under it, even when that
// connection has gone too: the join decides, and gives it a fresh grace.
TEST_F(SignalingTest, AJoinBeingRecordedHoldsTheGraceBackEvenWithItsConnectionGone) {
  Start();
  InCall in_call = StartCall("pat-10", "prov-10");
  const std::string id = in_call.id;
  auto &patient = in_call.patient, &provider = in_call.provider;
  patient->drop();
  ASSERT_TRUE(Await(*provider, "participant-reconnecting"));
  ASSERT_TRUE(PumpUntil([&] { return ParticipantStatus(id, "pat-10") == "reconnecting"; }));

  // The test's own connection holds the call log's write lock (under the
  // busy timeout), so the join waits to be recorded.
  auto db = sqlite_open(settings_.call_log.db_path, SqliteOpenOptions{});
  ASSERT_TRUE(db) << db.error().message;
  std::string error;
  ASSERT_TRUE(sqlite_exec(db.value().get(), "BEGIN IMMEDIATE", &error)) << error;
  auto again = Connect("pat-10", "patient");
  Send(*again, R"({"type":"join","callId":")" + id + R"("})");
  Pump();
  again->drop();
  // Its connection is gone (only the provider's is left) before the grace runs out.
  ASSERT_TRUE(PumpUntil([&] { return metrics_.ws_sessions == 1; }));
  clock_.advance_ms(31'000);
  signaling_->tick();
  EXPECT_TRUE(Received(*provider, "participant-left").empty()) << "timed out under its own join";

  auto events = [&](const char* type) {  // the patient's, of `type`
    Statement st(db.value().get(),
                 "SELECT count(*) FROM call_events WHERE call_id = ? AND type = ? AND actor_id = 'pat-10'");
    st.bind(1, id);
    st.bind(2, type);
    if (st.step() != SQLITE_ROW) return int64_t{-1};
    return st.integer(0);
  };
  ASSERT_TRUE(sqlite_exec(db.value().get(), "ROLLBACK", &error)) << error;
  // Recorded, then its connection's drop after it: a fresh grace.
  ASSERT_TRUE(PumpUntil([&] { return events("participant_disconnected") == 2; }));
  EXPECT_EQ(events("participant_joined"), 2);
  EXPECT_EQ(events("participant_left"), 0);
  clock_.advance_ms(29'000);
  signaling_->tick();
  EXPECT_TRUE(Received(*provider, "participant-left").empty()) << "the grace did not start again";
  clock_.advance_ms(2'000);
  signaling_->tick();
  JsonPtr left = Await(*provider, "participant-left");
  ASSERT_TRUE(left);
  EXPECT_EQ(json_string_field(left.get(), "reason").value_or(""), "timeout");
}

TEST_F(SignalingTest, TheMessageRateRefillsWithTime) {
  settings_.signaling.message_rate = 1;
  settings_.signaling.message_burst = 3;
  Start();
  std::string id = CreateCall("pat-4", "prov-4");
  auto patient = Connect("pat-4", "patient");
  Join(*patient, id);  // one token
  for (int i = 0; i < 2; ++i) Send(*patient, R"({"type":"media-state","audio":true})");
  Send(*patient, R"({"type":"media-state","audio":false})");  // over the burst
  JsonPtr limited = Await(*patient, "error");
  ASSERT_TRUE(limited);
  EXPECT_EQ(json_string_field(limited.get(), "code").value_or(""), "rate_limited");
  EXPECT_EQ(metrics_.rejected("ws_rate_limited"), 1u);

  clock_.advance_ms(1'000);  // one token back
  // An unknown type is answered (and counted) only once past the bucket.
  Send(*patient, R"({"type":"probe"})");
  EXPECT_TRUE(PumpUntil([&] { return metrics_.rejected("ws_unknown_type") == 1; }))
      << "the refilled token was not there";
  EXPECT_EQ(metrics_.rejected("ws_rate_limited"), 1u);
  Send(*patient, R"({"type":"probe"})");
  EXPECT_TRUE(PumpUntil([&] { return metrics_.rejected("ws_rate_limited") == 2; }));
  EXPECT_EQ(metrics_.rejected("ws_unknown_type"), 1u);
}

TEST_F(SignalingTest, FreshIceServersArePushedAtEightyPercentOfTheirLifetime) {
  Start();
  std::string id = CreateCall("pat-5", "prov-5");
  auto patient = Connect("pat-5", "patient");
  Join(*patient, id);
  clock_.advance_ms(479'000);  // 80 % of 600 s is 480 s
  signaling_->tick();
  EXPECT_TRUE(Received(*patient, "ice-servers").empty()) << "pushed too early";

  clock_.advance_ms(1'000);
  signaling_->tick();
  JsonPtr push = Await(*patient, "ice-servers");
  ASSERT_TRUE(push);
  const json_t* servers = json_object_get(push.get(), "iceServers");
  ASSERT_TRUE(json_is_array(servers));
  bool fresh = false;
  for (size_t i = 0; i < json_array_size(servers); ++i) {
    auto user = json_string_field(json_array_get(servers, i), "username");
    // REST usernames are "<expiry>:<user>@<call>": the expiry counts from now.
    if (user && user->find(std::to_string(clock_.now_s() + 600) + ":pat-5@" + id) == 0) fresh = true;
  }
  EXPECT_TRUE(fresh) << json_dump(push.get());
}

// A ping flood is not answered pong for ping: pings take tokens from the
// connection's message rate like messages (issue 11: 4.1M pings answered in 5 s).
TEST_F(SignalingTest, PingsCountInTheMessageRate) {
  settings_.signaling.message_rate = 1;
  settings_.signaling.message_burst = 10;
  Start();
  auto client = Connect("pat-6", "patient");
  for (int i = 0; i < 30; ++i) Ping(*client);
  ASSERT_TRUE(PumpUntil([&] { return metrics_.rejected("ws_rate_limited") == 20; }))
      << metrics_.rejected("ws_rate_limited");
  Pump();
  Read(*client);
  EXPECT_EQ(CountControl(*client, 0xA), 10) << "only the burst's worth of pings is answered";
  // The clock has not moved: a message now is over the rate too.
  Send(*client, R"({"type":"probe"})");
  EXPECT_TRUE(PumpUntil([&] { return metrics_.rejected("ws_rate_limited") == 21; }));
  EXPECT_EQ(metrics_.rejected("ws_unknown_type"), 0u);
}

// One subject holds at most max_sessions signaling connections; closing one
// frees its place. Service tokens are not capped.
TEST_F(SignalingTest, SessionsPerSubjectAreCapped) {
  settings_.limits.max_sessions = 2;
  Start();
  std::unique_ptr<Client> a, b, c, d;
  ASSERT_EQ(TryConnect("pat-7", "patient", &a).rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_EQ(TryConnect("pat-7", "patient", &b).rfind("HTTP/1.1 101", 0), 0u);
  EXPECT_EQ(TryConnect("pat-7", "patient", &c).rfind("HTTP/1.1 429", 0), 0u);
  EXPECT_NE(c->in.find("too_many_sessions"), std::string::npos) << c->in;
  EXPECT_EQ(metrics_.rejected("too_many_sessions"), 1u);
  EXPECT_EQ(TryConnect("other-user", "patient", &d).rfind("HTTP/1.1 101", 0), 0u) << "another subject is not affected";
  a->drop();
  ASSERT_TRUE(PumpUntil([&] { return signaling_->sessions() == 2; }));
  EXPECT_EQ(TryConnect("pat-7", "patient", &c).rfind("HTTP/1.1 101", 0), 0u) << "the closed session's place is free";
  for (int i = 0; i < 4; ++i) {
    std::unique_ptr<Client> svc;
    EXPECT_EQ(TryConnect("platform", "service", &svc).rfind("HTTP/1.1 101", 0), 0u) << i;
  }
}

// Joins are writes: one subject's joins are rate limited across all its
// connections (a join-and-close storm cannot write without bound), with the
// time to wait in the error; the bucket refills with the clock.
TEST_F(SignalingTest, JoinsAreRateLimitedPerSubject) {
  settings_.limits.writes_per_minute = 6;  // one every 10 s
  settings_.limits.write_burst = 2;
  Start();
  std::string id = CreateCall("pat-8", "prov-8");
  auto first = Connect("pat-8", "patient");
  auto second = Connect("pat-8", "patient");
  Join(*first, id);
  Send(*first, R"({"type":"leave"})");
  ASSERT_TRUE(Await(*first, "left"));
  Join(*second, id);  // the second token, from another connection
  Send(*second, R"({"type":"leave"})");
  ASSERT_TRUE(Await(*second, "left"));
  Send(*first, R"({"type":"join","callId":")" + id + R"(","requestId":"third"})");
  JsonPtr refused = Await(*first, "error");
  ASSERT_TRUE(refused);
  EXPECT_EQ(json_string_field(refused.get(), "code").value_or(""), "rate_limited");
  EXPECT_EQ(json_integer_value(json_object_get(refused.get(), "retryAfterSeconds")), 10);
  EXPECT_EQ(json_string_field(refused.get(), "requestId").value_or(""), "third");
  EXPECT_EQ(metrics_.rejected("rate_limited"), 1u);
  clock_.advance_ms(10'000);
  Join(*first, id);
}

}  // namespace
}  // namespace vytal
