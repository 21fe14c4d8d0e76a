// The JSON signaling messages through Signaling::on_ws_message, set up as
// tests/unit/signald/signaling_test.cc does: a real HttpServer on loopback,
// a real CallLog (its commit thread) in a temporary directory, TurnLink, and
// an injected clock. For each input two calls are created and three users
// connect (patient p1, provider d1, patient p2: p1 and d1 are in call $C0,
// p2 and d1 in $C1); the input then drives them.
//
// Input: lines. "<k><message>" sends the text message (k = the client,
// '0', '1' or '2'; "$C0", "$C1" in it become the calls' ids); "~<seconds>"
// advances the clock (at most 100 s) and runs Signaling::tick; "!<k>" drops
// client k's connection; "+<k>" connects it again; "R<k><METHOD> <path>
// [<body>]" is a REST request with user k's token (the server's handler is
// RestApi, which routes /webrtc/ws to Signaling, as in signald). After the lines that
// write to the call log the harness waits for it (a write queued behind
// everything before it completes); other messages go back to back.
//
// Invariants, beyond "no sanitizer finding, no crash":
// - everything the server sends is a well-formed frame, and every text
//   message a JSON object with a string "type";
// - every REST response is one well-formed HTTP response, never a 500 (503
//   is an answer: overloaded), with a JSON object as its JSON body;
// - once every client has gone and the reconnect grace has passed, no
//   session, connection or room member is left: in the call log, no
//   participant of the input's calls is still joined or reconnecting, and
//   neither call is still active.
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "call_log/call_log.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/jwt.h"
#include "common/log.h"
#include "common/sqlite.h"
#include "http/http_server.h"
#include "loopback.h"
#include "signald/metrics.h"
#include "signald/rest/rest_api.h"
#include "signald/signaling/signaling.h"
#include "signald/turn_link.h"

namespace vytal {
namespace {

constexpr char kSecret[] = "signaling-fuzz-secret-0123456789abcdef";
constexpr int kClients = 3;
constexpr const char* kUsers[kClients] = {"p1", "d1", "p2"};
constexpr const char* kRoles[kClients] = {"patient", "provider", "patient"};
constexpr int kInputsPerWorld = 5000;  // then everything is made again in a fresh directory

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "signaling_fuzz: %s\n", why.c_str());
  std::abort();
}

// A signaling client: a loopback connection upgraded to WebSocket, whose
// server frames are checked as they arrive.
struct Client {
  std::unique_ptr<fuzz::LoopbackClient> conn;
  size_t parsed = 0;  // bytes of conn->received already checked
  bool closed = false;

  void check_frames() {
    std::string_view in = conn->received;
    while (!closed && in.size() - parsed >= 2) {
      auto b = [&](size_t i) { return static_cast<uint8_t>(in[parsed + i]); };
      uint8_t op = b(0) & 0x0F;
      if ((b(0) & 0xF0) != 0x80 || (b(1) & 0x80)) fail("a malformed server frame");
      uint64_t len = b(1) & 0x7F;
      size_t header = 2;
      if (len == 126) {
        if (in.size() - parsed < 4) return;
        len = (uint64_t{b(2)} << 8) | b(3);
        header = 4;
      } else if (len == 127) {
        if (in.size() - parsed < 10) return;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
        header = 10;
      }
      if (in.size() - parsed - header < len) return;
      std::string_view payload = in.substr(parsed + header, len);
      parsed += header + len;
      if (op == kWsText) {
        std::string error;
        JsonPtr m = json_parse(payload, &error);
        if (!json_is_object(m.get()) || !json_string_field(m.get(), "type"))
          fail("a server message that is not a typed JSON object: " + std::string(payload));
      } else if (op == kWsClose) {
        closed = true;
      } else if (op != kWsPing) {
        fail("a server frame with opcode " + std::to_string(op));
      }
    }
  }
};

class World {
 public:
  World() {
    const char* tmp = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = std::string(tmp) + "/vytal-signaling-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) fail("mkdtemp");
    dir_ = tmpl;
    settings_.jwt.secret = kSecret;
    settings_.call_log.db_path = dir_ + "/calls.db";
    settings_.signaling.reconnect_grace_s = 30;
    settings_.ice.turn_urls = {"turn:127.0.0.1:3478"};
    settings_.ice.turn_secret = "turn-secret";
    settings_.ice.revoked_path = dir_ + "/revoked";
    base_.reset(event_base_new());
    auto jwt = JwtVerifier::create(settings_.jwt);
    if (!jwt) fail(jwt.error().message);
    jwt_.emplace(std::move(jwt.value()));
    auto log = CallLog::open(base_.get(), settings_.call_log, clock_, metrics_.commits, [](const char*) {});
    if (!log) fail(log.error().message);
    log_ = std::move(log.value());
    const IceSettings& ice = settings_.ice;
    turn_ = std::make_unique<TurnLink>(
        base_.get(), TurnLinkOptions{ice.turn_secret, "", ice.revoked_path, "", ice.ttl_s}, *log_, metrics_, clock_);
    signaling_ =
        std::make_unique<Signaling>(SignalingDeps{settings_, *jwt_, *log_, metrics_, clock_, base_.get(), *turn_});
    api_ = std::make_unique<RestApi>(RestApiDeps{settings_, *jwt_, *log_, metrics_, clock_, *signaling_, *turn_});
    // As signald wires it: the REST API routes /webrtc/ws to signaling.
    server_ = std::make_unique<HttpServer>(
        base_.get(), settings_.http, metrics_,
        [this](HttpRequest& request, Responder responder) { api_->handle(request, std::move(responder)); });
    std::string error;
    if (!server_->start(&error)) fail(error);
  }

  ~World() {
    server_.reset();
    api_.reset();
    signaling_.reset();
    turn_.reset();
    log_.reset();
    base_.reset();
    std::filesystem::remove_all(dir_);
  }

  void run(std::string_view input) {
    create_calls();
    for (int k = 0; k < kClients; ++k) connect(k);
    int lines = 0;
    for (size_t at = 0; at <= input.size() && lines < 64; ++lines) {
      size_t nl = input.find('\n', at);
      std::string_view line = input.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
      at = nl == std::string_view::npos ? input.size() + 1 : nl + 1;
      if (line.empty()) continue;
      act(line);
      // The call log is waited for after what writes to it (or may act on
      // the rooms); other messages go out back to back, as a client sends them.
      if (line[0] == '~' || line[0] == '!' || line[0] == '+' || line[0] == 'R' ||
          line.find("join") != std::string_view::npos || line.find("end") != std::string_view::npos ||
          line.find("leave") != std::string_view::npos)
        settle();
      else
        event_base_loop(base_.get(), EVLOOP_NONBLOCK);
    }
    tear_down_input();
  }

 private:
  // Both in one commit.
  void create_calls() {
    static const char* const kPairs[2][2] = {{"p1", "d1"}, {"p2", "d1"}};
    int done = 0;
    for (int i = 0; i < 2; ++i) {
      calls_[i].clear();
      NewCall call{kPairs[i][0], kPairs[i][1], "video", std::nullopt, std::nullopt};
      Actor service{"platform", Role::service, "127.0.0.1"};
      log_->submit([call, service](CallWriter& w) { return w.create(call, service); },
                   [this, i, &done](Result<CallUpdate> r) {
                     if (!r) fail("cannot create a call: " + r.error().message);
                     calls_[i] = r->call.id;
                     ++done;
                   },
                   CallLog::WhenFull::wait);
    }
    while (done < 2) event_base_loop(base_.get(), EVLOOP_ONCE);
  }

  std::string token(int k) {
    JsonPtr claims(json_object());
    json_put(claims.get(), "sub", json_str(k < kClients ? kUsers[k] : "platform"));
    json_put(claims.get(), "role", json_str(k < kClients ? kRoles[k] : "service"));
    json_put(claims.get(), "exp", json_integer(clock_.now_s() + 3600));
    return jwt_sign_hs256(kSecret, claims.get());
  }

  void connect(int k) {
    Client& c = clients_[k];
    c = Client{};
    c.conn = std::make_unique<fuzz::LoopbackClient>(base_.get(), server_->port());
    c.conn->queue(
        "GET /webrtc/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: vytal.v1, bearer." +
        token(k) + "\r\n\r\n");
    while (!c.conn->write_some()) event_base_loop(base_.get(), EVLOOP_ONCE);
    while (c.conn->received.find("\r\n\r\n") == std::string::npos && !c.conn->eof)
      event_base_loop(base_.get(), EVLOOP_ONCE);
    if (c.conn->received.rfind("HTTP/1.1 101", 0) != 0) fail("no upgrade: " + c.conn->received);
    c.parsed = c.conn->received.find("\r\n\r\n") + 4;
  }

  std::string with_calls(std::string text) const {
    for (int i = 0; i < 2; ++i)
      for (size_t p; (p = text.find(i ? "$C1" : "$C0")) != std::string::npos;) text.replace(p, 3, calls_[i]);
    return text;
  }

  void send(int k, std::string text) {
    Client& c = clients_[k];
    if (!c.conn || c.closed || c.conn->eof) return;
    text = with_calls(std::move(text));
    // A masked text frame (RFC 6455 5.3) with the key 0, so the payload is as is.
    std::string frame = "\x81";
    if (text.size() < 126) {
      frame += static_cast<char>(0x80 | text.size());
    } else if (text.size() <= 0xFFFF) {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(text.size() >> 8);
      frame += static_cast<char>(text.size() & 0xFF);
    } else {
      return;
    }
    frame.append(4, '\0');
    frame += text;
    c.conn->queue(frame);
    while (!c.conn->write_some()) event_base_loop(base_.get(), EVLOOP_ONCE);
  }

  void act(std::string_view line) {
    char what = line[0];
    std::string_view rest = line.substr(1);
    int k = rest.empty() ? 0 : static_cast<uint8_t>(rest[0]) % kClients;
    if (what == '~') {
      int64_t s = 0;
      for (char ch : rest.substr(0, 3))
        if (ch >= '0' && ch <= '9') s = s * 10 + (ch - '0');
      clock_.advance_ms(std::min<int64_t>(s, 100) * 1000);
      signaling_->tick();
    } else if (what == '!') {
      clients_[k].conn.reset();  // a reset, as a vanished client
    } else if (what == '+') {
      if (!clients_[k].conn) connect(k);
    } else if (what == 'R') {
      rest_call(rest);
    } else {
      send(static_cast<uint8_t>(what) % kClients, std::string(rest));
    }
  }

  // "R<k><METHOD> <path>[ <JSON body>]": one REST request on its own
  // connection, with the token of user k ('0'-'2' as the clients, '3' the
  // platform's service token, anything else none); the response must be one
  // well-formed HTTP response, not a 500, its JSON body an object.
  void rest_call(std::string_view spec) {
    if (spec.size() < 2) return;
    int k = spec[0] - '0';
    std::string_view rest = spec.substr(1);
    size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) return;
    std::string method(rest.substr(0, sp));
    rest.remove_prefix(sp + 1);
    size_t sp2 = rest.find(' ');
    std::string path = with_calls(std::string(rest.substr(0, sp2)));
    std::string body = sp2 == std::string_view::npos ? "" : with_calls(std::string(rest.substr(sp2 + 1)));
    for (char ch : method + path)
      if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) return;  // not a request line
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (k >= 0 && k <= kClients) request += "Authorization: Bearer " + token(k) + "\r\n";
    if (!body.empty())
      request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    request += "\r\n" + body;
    fuzz::LoopbackClient c(base_.get(), server_->port());
    c.queue(request);
    while (!c.write_some()) event_base_loop(base_.get(), EVLOOP_ONCE);
    while (!c.eof) event_base_loop(base_.get(), EVLOOP_ONCE);
    check_rest_response(c.received, request);
  }

  static void check_rest_response(std::string_view in, std::string_view request) {
    auto bad = [&](const std::string& why) {
      fail("REST: " + why + "\n  request: " + std::string(request.substr(0, 300)) +
           "\n  response: " + std::string(in.substr(0, 600)));
    };
    size_t end = in.find("\r\n\r\n");
    if (in.substr(0, 9) != "HTTP/1.1 " || end == std::string_view::npos) bad("not an HTTP response");
    int status = std::atoi(std::string(in.substr(9, 3)).c_str());
    if (status < 100 || status > 599 || (status >= 500 && status != 503)) bad("status " + std::to_string(status));
    std::string_view head = in.substr(0, end), body = in.substr(end + 4);
    size_t cl = head.find("\r\nContent-Length: ");
    if (cl == std::string_view::npos) bad("no Content-Length");
    if (std::strtoul(std::string(head.substr(cl + 18)).c_str(), nullptr, 10) != body.size() &&
        request.substr(0, 5) != "HEAD ")
      bad("a body of another length than its Content-Length");
    if (head.find("\r\nContent-Type: application/json") != std::string_view::npos && !body.empty()) {
      std::string error;
      JsonPtr j = json_parse(body, &error);
      if (!json_is_object(j.get())) bad("a JSON body that is not an object: " + error);
    }
  }

  // Waits until everything written so far is in the call log: a write queued
  // behind them completes (the queue keeps the order).
  void settle() {
    // The server first reads what the clients sent (loopback delivers at
    // once), so the writes those messages make are queued before the marker.
    for (int i = 0; i < 3; ++i) event_base_loop(base_.get(), EVLOOP_NONBLOCK);
    bool done = false;
    log_->submit([](CallWriter&) { return true; }, [&done](bool) { done = true; }, CallLog::WhenFull::wait);
    while (!done) event_base_loop(base_.get(), EVLOOP_ONCE);
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
    for (Client& c : clients_)
      if (c.conn) c.check_frames();
  }

  void tear_down_input() {
    for (Client& c : clients_) c.conn.reset();
    while (signaling_->sessions() > 0 || server_->open_connections() > 0) event_base_loop(base_.get(), EVLOOP_ONCE);
    settle();  // joins still in flight complete (their users then wait out the grace)
    clock_.advance_ms((settings_.signaling.reconnect_grace_s + 1) * 1000);
    signaling_->tick();
    settle();
    settle();  // what the first one's completions queued (an all_left end)
    for (const std::string& id : calls_) {
      auto call = log_->reader().get(id);
      if (!call || !call.value()) fail("a call is gone: " + id);
      const CallRecord& r = *call.value();
      if (r.status == CallStatus::active) fail("call " + id + " is still active with everyone gone");
      for (const ParticipantRecord& p : r.participants)
        if (p.status == "joined" || p.status == "reconnecting")
          fail("participant " + p.user_id + " of call " + id + " is still " + p.status + " with everyone gone" +
               events_of(id));
    }
  }

  // The call's events, to tell what happened when an invariant breaks.
  std::string events_of(const std::string& id) {
    auto db = sqlite_open(settings_.call_log.db_path, SqliteOpenOptions{.read_only = true});
    if (!db) return "";
    Statement q(db.value().get(),
                "SELECT type, actor_id, occurred_at, detail FROM call_events WHERE call_id = ?1 ORDER BY rowid");
    q.bind(1, id);
    std::string out = "\n  events:";
    while (q.step() == SQLITE_ROW)
      out += "\n    " + q.text(0) + " " + q.text(1) + " " + std::to_string(q.integer(2)) + " " +
             q.opt_text(3).value_or("");
    return out;
  }

  std::string dir_;
  ManualClock clock_{1'800'000'000'000};
  SignaldSettings settings_;
  EventBasePtr base_;
  Metrics metrics_;
  std::optional<JwtVerifier> jwt_;
  std::unique_ptr<CallLog> log_;
  std::unique_ptr<TurnLink> turn_;
  std::unique_ptr<Signaling> signaling_;
  std::unique_ptr<RestApi> api_;
  std::unique_ptr<HttpServer> server_;
  Client clients_[kClients];
  std::string calls_[2];
};

}  // namespace
}  // namespace vytal

using namespace vytal;

std::unique_ptr<World> world;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int inputs = 0;
  if (!world) {
    evthread_use_pthreads();
    set_log_level(LogLevel::error);
    // OpenSSL's configuration loaded here, on the main thread: when the
    // commit thread loads it first (making a call id), OpenSSL 3.0 leaves
    // that thread's error state and random generator behind when it ends,
    // which LeakSanitizer reports. OpenSSL's exit handler is registered
    // first, so ours (the commit thread's end) runs before it.
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    std::atexit([] { world.reset(); });
  }
  if (!world || ++inputs % kInputsPerWorld == 0) {
    world.reset();
    world = std::make_unique<World>();
  }
  world->run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
