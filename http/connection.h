// One client connection of an HttpServer, and the request being read on it.
// Internal to http/: handlers see Responder and WsLink only.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/handles.h"
#include "http/http_server.h"
#include "http/ws_codec.h"

namespace vytal {

// Monotonic milliseconds: connection deadlines.
int64_t monotonic_ms();

// Sends `parts` on the socket at once when nothing waits in the output buffer
// before them, and buffers only what the socket did not take (or all of it,
// behind what waits). True when everything went out now.
bool write_or_buffer(bufferevent* bev, std::span<const iovec> parts);

// The request being read: allocated at its first byte, handed to the handler
// when complete. An idle keep-alive connection has none.
struct PendingRequest {
  HttpRequest request;
  std::string field;
  std::string value;
  bool in_value = false;
  size_t header_bytes = 0;
  size_t wire_bytes = 0;      // read so far while unfinished: head, body and chunked framing
  bool headers_done = false;  // after on_headers_complete, header callbacks are chunked trailers
  int reject_status = 0;
  const char* reject_code = nullptr;
  const char* reject_message = nullptr;
};

// Checks the request line and header lines as they arrive, before
// http-parser sees them: a bare LF line ending or an obs-fold continuation
// line (RFC 9112 sections 2.2 and 5.2) is refused rather than tolerated.
// Active from a request's first byte to the blank line ending its headers.
struct HeaderLineCheck {
  bool active = true;
  bool prev_cr = false;
  bool seen_line = false;  // a non-empty line was read (the request line)
  bool line_open = false;  // the current line has a character other than CR
};

struct Connection {
  // reading -> waiting (handler has the request) -> writing -> reading ...;
  // after an upgrade: websocket, until closing (close frame queued) or closed.
  // Either side's end: closing (last bytes queued) -> lingering (sent, draining) -> closed.
  enum class State : uint8_t { reading, waiting, writing, websocket, closing, lingering, closed };

  HttpServer* server = nullptr;
  BufferEventPtr bev;  // null once closed
  http_parser parser;
  std::unique_ptr<PendingRequest> pending;
  std::string ip;
  int64_t deadline_ms = 0;  // monotonic; 0: none. WebSocket: when to ping, or (ping_outstanding) to give up
  State state = State::reading;
  bool message_done = false;
  bool close_after_write = false;
  bool ping_outstanding = false;
  HeaderLineCheck line_check;
  bool local = false;              // accepted on the local socket
  bool ws_output_counted = false;  // an output callback counts this WebSocket's unsent bytes in the server's total
  WsReadState ws;
  WsHandler* ws_handler = nullptr;
  void* ws_user = nullptr;
  Connection* prev = nullptr;        // ConnectionList links; the list owns
  std::unique_ptr<Connection> next;  // the connection through `next`
};
// Memory per idle connection is a target (docs/BENCHMARKS.md): with glibc a
// connection is one 160-byte block up to 152 bytes, a 176-byte one past that.
static_assert(sizeof(Connection) <= 152, "Connection outgrew its 160-byte malloc block");

// http-parser's settings for a Connection's requests (request_parser.cc).
extern const http_parser_settings kRequestParserSettings;

// Checks the lines of a request's head (request line and headers) in the
// bytes about to be parsed; returns why they are refused, or null. Stops at
// the blank line that ends the head: the body is not lines.
const char* check_head_lines(HeaderLineCheck& check, const char* bytes, size_t n);

}  // namespace vytal
