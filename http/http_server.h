// signald's HTTP/1.1 server: http-parser on libevent bufferevents, with the
// limits a daemon facing the network needs: header and body size, a deadline
// to send a whole request, keep-alive idle time, write timeout, connections in
// all and per address. A handler may answer later (after the call log has
// committed): until it does, the connection stops reading, so a pipelining
// client waits and nothing is answered out of order.
//
// Per idle connection signald keeps the bufferevent and one Connection
// (about 120 bytes: the parser, a deadline, list links); the request being
// read lives in a separate allocation that exists only while one is in flight.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/handles.h"
#include "http/http_metrics.h"
#include "http/http_options.h"
#include "http/ws_codec.h"

namespace vytal {

struct HttpRequest {
  http_method method = HTTP_GET;
  std::string path;                                          // percent-encoded, as sent
  std::string query;                                         // after '?', without it
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_addr;  // the client: the TCP peer, or X-Real-IP from a trusted proxy
  bool keep_alive = true;
  bool upgrade = false;  // Connection: Upgrade was asked for
  bool local = false;    // came on the local channel (HttpServerOptions::local_socket_path)

  // The first header of that (lower-case) name, or null.
  const std::string* header(std::string_view name) const;
  const char* method_name() const { return http_method_str(method); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Connection;
class HttpServer;

// A handle to an upgraded (WebSocket) connection, valid from the upgrade
// until the handler's on_ws_closed for it returns.
class WsLink {
 public:
  WsLink() = default;
  WsLink(HttpServer* server, Connection* conn) : server_(server), conn_(conn) {}
  // Sends one text message; a client that lets more than
  // ws_max_output_bytes pile up unread is dropped instead.
  void send(std::string_view text) const;
  // Sends a close frame and closes once it is written.
  void close(uint16_t code, std::string_view reason) const;
  void* user() const;
  const std::string& remote_addr() const;
  explicit operator bool() const { return conn_ != nullptr; }
  bool operator==(const WsLink& o) const { return conn_ == o.conn_; }

 private:
  HttpServer* server_ = nullptr;
  Connection* conn_ = nullptr;
};

class WsHandler {
 public:
  virtual ~WsHandler() = default;
  // One whole text message (binary messages are refused with close 1003).
  virtual void on_ws_message(WsLink link, std::string_view text) = 0;
  // The connection is gone, whoever closed it; called exactly once.
  virtual void on_ws_closed(WsLink link) = 0;
  // A ping or pong arrived: false drops it (a ping is then not answered).
  // Control frames count in a client's message rate like messages do.
  virtual bool on_ws_control(WsLink link) { return true; }
};

// The right to answer one request, now or later from the event loop: move-
// only, and used up by send() or upgrade() (call them on an rvalue:
// std::move(responder).send(...)), so a request cannot be answered twice.
// The connection is kept until then even if the client has gone (the answer
// is then dropped). A Responder dropped unused leaves its connection waiting
// until the client goes: only shutdown does that.
class Responder {
 public:
  Responder(HttpServer* server, Connection* conn) : server_(server), conn_(conn) {}
  Responder(Responder&& other) noexcept : server_(other.server_), conn_(std::exchange(other.conn_, nullptr)) {}
  Responder& operator=(Responder&& other) noexcept {
    server_ = other.server_;
    conn_ = std::exchange(other.conn_, nullptr);
    return *this;
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void send(HttpResponse response) &&;
  // Completes a WebSocket handshake (RFC 6455 section 4.2.2) with the
  // client's Sec-WebSocket-Key and the subprotocol to confirm (may be empty);
  // from now on the connection's messages go to `handler`. `user` is the
  // handler's own pointer for this connection (WsLink::user).
  WsLink upgrade(std::string_view websocket_key, std::string_view protocol, WsHandler* handler, void* user) &&;

 private:
  HttpServer* server_;
  Connection* conn_;
};

// Connections linked through their own prev/next pointers. The list owns
// them (each `next` is a unique_ptr), and remove() hands the owner out.
class ConnectionList {
 public:
  ConnectionList() = default;
  ~ConnectionList();  // frees them one by one (no recursion through `next`)
  ConnectionList(const ConnectionList&) = delete;
  ConnectionList& operator=(const ConnectionList&) = delete;
  Connection* push(std::unique_ptr<Connection> c);
  std::unique_ptr<Connection> remove(Connection* c);
  Connection* head() const { return head_.get(); }

 private:
  std::unique_ptr<Connection> head_;
};

using HttpHandler = std::function<void(HttpRequest& request, Responder responder)>;

class HttpServer {
 public:
  HttpServer(event_base* base, HttpServerOptions options, HttpMetrics& metrics, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (and on the local socket, when set); false with
  // *error set when the address is unusable. A local socket whose directory
  // does not exist is skipped with a warning (a development machine has no
  // /run/vytalwatch).
  bool start(std::string* error);
  int port() const { return port_; }
  size_t open_connections() const { return open_; }

  // A JSON error body: {"error":{"code":...,"message":...}}.
  static HttpResponse error_response(int status, std::string_view code, std::string_view message);
  // A refused request answered with error_response, counted by route,
  // method and status and by reason (the code) in `metrics`.
  static void refuse(Responder responder, HttpMetrics& metrics, std::string_view route, std::string_view method,
                     int status, std::string_view code, std::string_view message);

 private:
  friend class Responder;
  friend class WsLink;
  friend struct ConnectionCallbacks;

  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* self) noexcept;
  static void on_accept_error(evconnlistener* listener, void* self) noexcept;
  static void on_accept_resume(evutil_socket_t, short, void* self) noexcept;
  static void on_read(bufferevent* bev, void* conn) noexcept;
  static void on_write(bufferevent* bev, void* conn) noexcept;
  static void on_event(bufferevent* bev, short what, void* conn) noexcept;
  static void on_sweep(evutil_socket_t, short, void* self) noexcept;
  static void on_reap(evutil_socket_t, short, void* self) noexcept;

  // HTTP (http_server.cc)
  void process_input(Connection* c);
  void dispatch(Connection* c);
  // `head`: the request was a HEAD (RFC 9110 9.3.2: headers only).
  void send(Connection* c, HttpResponse&& response, bool head);
  void fail(Connection* c, int status, std::string_view code, std::string_view message, const char* reason);
  void linger(Connection* c);
  void close(Connection* c);
  // Frees a closed connection from the top of the loop, never inside its own callback.
  void release(std::unique_ptr<Connection> c);
  // WebSocket (websocket.cc)
  WsLink upgrade(Connection* c, std::string_view key, std::string_view protocol, WsHandler* handler, void* user);
  // Handles the frames a read brought. The frames they make for connections
  // with nothing waiting are staged meanwhile and written when the read is
  // handled: the messages of one read reach each peer in one system call.
  void process_websocket(Connection* c);
  void read_websocket(Connection* c);
  void ws_send(Connection* c, uint8_t opcode, std::string_view payload);
  // Writes what is staged for `c` (before a close frame goes behind it), or
  // for every connection.
  void ws_write_staged(Connection* c);
  void ws_write_all_staged();
  void ws_fail(Connection* c, uint16_t code, std::string_view reason, const char* metric);
  void ws_keepalive(Connection* c, int64_t now_ms);
  // Drops a client whose unsent bytes are over a cap: its bytes leave the
  // global count now, the connection closes from the reaper.
  void ws_drop(Connection* c, const char* reason);
  // Stops counting a connection's output in ws_output_bytes_.
  void ws_forget_output(Connection* c);
  static void on_ws_output(evbuffer* buffer, const evbuffer_cb_info* info, void* conn) noexcept;

  event_base* base_;
  HttpServerOptions options_;
  HttpMetrics& metrics_;
  HttpHandler handler_;
  bool start_local(std::string* error);

  ListenerPtr listener_;
  ListenerPtr local_listener_;
  EventPtr sweep_;
  EventPtr reap_;
  EventPtr accept_resume_;  // listeners paused after an accept error start again
  int port_ = 0;
  size_t open_ = 0;
  ConnectionList live_;                               // every open connection, for the deadline sweep
  ConnectionList awaiting_;                           // closed while a handler holds their Responder
  std::vector<std::unique_ptr<Connection>> closing_;  // closed, to be freed
  std::vector<Connection*> to_close_;                 // to be closed from the top of the loop
  std::unordered_map<std::string, int> per_ip_;
  size_t ws_output_bytes_ = 0;  // unsent bytes of every WebSocket connection
  struct Staged {
    Connection* conn;
    std::string bytes;  // whole frames, in the order they were sent
  };
  bool staging_ = false;
  std::vector<Staged> staged_;  // the first staged_count_ in use; the others keep their capacity
  size_t staged_count_ = 0;
};

}  // namespace vytal
