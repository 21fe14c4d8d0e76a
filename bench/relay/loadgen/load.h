// The relay load: both participants of each call, joined through the server's
// own protocol, then phases of relayed messages between them, each measured
// send to receive on this process's monotonic clock.
//
// Driven by text lines (see main.cc); answers with one JSON line on stdout
// per command: {"ev":"ready",...} after setup, {"ev":"result",...} per phase.
// Two dialects, the same traffic:
//  - vytal: signald's /webrtc/ws, the JWT in the `bearer.` subprotocol,
//    {"type":"join"} then {"type":"offer","to","sdp":{...}} messages;
//  - sio: Engine.IO 4 / Socket.IO 5 framing (open packet `0{...}`, connect
//    `40{"token"}`, events `42["offer",{...}]`, pings `2` answered with `3`).
#pragma once

#include <event2/event.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/relay/loadgen/latency_histogram.h"
#include "bench/relay/loadgen/ws_client.h"
#include "common/handles.h"

namespace vytal::bench {

enum class Dialect { vytal, socketio };

struct CallPair {
  std::string call_id, user_a, token_a, user_b, token_b;
};

struct LoadOptions {
  WsTarget target;
  Dialect dialect = Dialect::vytal;
  size_t message_bytes = 1024;   // each message's whole text payload
  std::vector<in_addr> sources;  // local addresses, used in turn
  unsigned connect_concurrency = 100;
  double join_timeout_seconds = 30;
};

struct PhaseSpec {
  enum class Mode { window, rate } mode = Mode::window;
  unsigned window = 2;  // window: messages in flight per connection
  double rate = 0;      // rate: messages/s offered, spread over the connections
  double seconds = 10;
  double drain_seconds = 5;
};

class Load final : public WsHandler {
 public:
  Load(event_base* base, LoadOptions options, const std::vector<CallPair>& pairs);
  ~Load();
  // Opens and joins every connection, then prints the ready line.
  void start();
  // Runs one phase, then prints its result line. One phase at a time.
  void run_phase(const PhaseSpec& spec);
  bool phase_running() const { return phase_ != nullptr; }

  void on_open(WsClient& c) override;
  void on_message(WsClient& c, std::string_view text) override;
  void on_closed(WsClient& c, std::string_view why) override;
  void on_read_done(WsClient& c) override;

 private:
  struct Conn;
  struct Phase;

  void connect_next();
  void settle(Conn& c, bool joined, std::string_view why);
  // Stamps and sends c's message: written at once, or queued until the read
  // being handled is done (saturation: one write for the messages one read
  // answers, as a server writes what one read relays).
  void send(Conn& c, bool at_once = true);
  void on_relayed(Conn& c, std::string_view text, size_t mark);
  void on_error(Conn& c, std::string_view text);
  void on_control(Conn& c, std::string_view text);
  void drain();
  void finish();
  static void on_join_timeout(evutil_socket_t, short, void* conn) noexcept;
  static void on_tick(evutil_socket_t, short, void* self) noexcept;
  static void on_phase_end(evutil_socket_t, short, void* self) noexcept;
  static void on_drain_end(evutil_socket_t, short, void* self) noexcept;

  event_base* base_;
  LoadOptions options_;
  std::vector<std::unique_ptr<Conn>> conns_;
  size_t next_connect_ = 0;
  size_t in_flight_ = 0;
  size_t settled_ = 0;
  size_t joined_ = 0;
  uint64_t errors_ = 0;
  uint64_t closes_ = 0;
  std::unique_ptr<Phase> phase_;
};

}  // namespace vytal::bench
