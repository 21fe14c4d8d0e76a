// One client connection of an HttpServer, and the request being read on it.
// Internal to http/: handlers see Responder and WsLink only.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/handles.h"
#include "http/http_server.h"
#include "http/ws_codec.h"

namespace vytal {

// Monotonic milliseconds: connection deadlines.
int64_t monotonic_ms();

// The request being read: allocated at its first byte, handed to the handler
// when complete. An idle keep-alive connection has none.
struct PendingRequest {
  HttpRequest request;
  std::string field;
  std::string value;
  bool in_value = false;
  size_t header_bytes = 0;
  int reject_status = 0;
  const char* reject_code = nullptr;
  const char* reject_message = nullptr;
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
  bool local = false;  // accepted on the local socket
  WsReadState ws;
  WsHandler* ws_handler = nullptr;
  void* ws_user = nullptr;
  Connection* prev = nullptr;        // ConnectionList links; the list owns
  std::unique_ptr<Connection> next;  // the connection through `next`
};

}  // namespace vytal
