// One client WebSocket connection of the relay load generator: a TCP socket
// from a chosen source address, the RFC 6455 opening handshake (the 101
// response parsed by http-parser, Sec-WebSocket-Accept checked), then
// framing by wslay's frame layer (header parsing, masking); this class
// assembles messages and answers pings. wslay's event layer is not used: it
// checks the UTF-8 of every received text byte by byte, which cost the
// client 12 % of its CPU here; the client trusts the server it measures.
//
// Output is written at once when the socket takes it (one write per send, no
// write interest registered unless the kernel's buffer is full), or queued
// and written by one flush for several messages, so the client adds as
// little per-message work as it can to what it measures.
// Single-threaded: every call and callback runs on the event_base's thread.
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <wslay/wslay.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/handles.h"

namespace vytal::bench {

struct WsTarget {
  sockaddr_in server{};
  std::string host;  // the Host header: "127.0.0.1:8080"
  std::string path;  // "/webrtc/ws", "/socket.io/?EIO=4&transport=websocket"
};

class WsClient;

// Told about a connection's life; never frees the client from a callback.
class WsHandler {
 public:
  virtual void on_open(WsClient& c) = 0;
  virtual void on_message(WsClient& c, std::string_view text) = 0;
  // Once per connection: failed handshake, protocol error, close frame or EOF.
  virtual void on_closed(WsClient& c, std::string_view why) = 0;
  // After the messages of one read from the socket were handed over.
  virtual void on_read_done(WsClient& c) = 0;

 protected:
  ~WsHandler() = default;
};

class WsClient {
 public:
  WsClient(event_base* base, WsHandler& handler, void* user);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Starts connecting from `source`; `subprotocols` goes into
  // Sec-WebSocket-Protocol when not empty. false with `error` if the socket
  // could not even be started.
  bool connect(const WsTarget& target, const in_addr& source, std::string_view subprotocols, std::string& error);
  // Queues one text message and writes what the socket takes.
  void send_text(std::string_view text);
  // Queues one text message; the next flush() or send_text() writes it.
  void queue_text(std::string_view text);
  // Writes what is queued, as much as the socket takes.
  void flush();
  // Bytes accepted by send_text that the kernel has not taken yet.
  size_t pending_output() const { return evbuffer_get_length(out_.get()); }
  bool is_open() const { return state_ == State::open; }
  void* user() const { return user_; }

 private:
  enum class State { connecting, handshake, open, closed };
  using EvbufferPtr = CHandle<evbuffer, evbuffer_free>;

  static const wslay_frame_callbacks& wslay_callbacks();
  static void on_readable(evutil_socket_t, short, void* self) noexcept;
  static void on_writable(evutil_socket_t, short, void* self) noexcept;
  static ssize_t wslay_recv(uint8_t* buf, size_t len, int, void* self) noexcept;
  static ssize_t wslay_send(const uint8_t* data, size_t len, int, void* self) noexcept;
  static int wslay_genmask(uint8_t* buf, size_t len, void* self) noexcept;
  static int on_header_field(http_parser* p, const char* at, size_t len) noexcept;
  static int on_header_value(http_parser* p, const char* at, size_t len) noexcept;
  static int on_headers_complete(http_parser* p) noexcept;

  void read_handshake();
  void read_frames();
  void on_frame_chunk(const wslay_frame_iocb& io, size_t got);
  void send_frame(uint8_t opcode, std::string_view payload);
  void fail(std::string_view why);

  event_base* base_;
  WsHandler& handler_;
  void* user_;
  State state_ = State::connecting;
  evutil_socket_t fd_ = -1;
  EventPtr read_event_;
  EventPtr write_event_;
  EvbufferPtr in_;
  EvbufferPtr out_;
  wslay_frame_context_ptr ws_ = nullptr;
  uint64_t frame_got_ = 0;  // payload bytes of the current frame so far
  std::string message_;     // a message spanning several chunks or frames
  std::string control_;     // a control frame's payload (at most 125 bytes)
  uint8_t message_opcode_ = 0;
  uint64_t mask_state_;
  // Handshake only.
  std::string expected_accept_;
  http_parser parser_{};
  std::string header_field_;
  std::string accept_;
  bool last_was_value_ = false;
  bool headers_done_ = false;
};

}  // namespace vytal::bench
