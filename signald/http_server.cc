#include "signald/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"

namespace vytal {
namespace {

int64_t monotonic_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool is_trusted_proxy(const HttpServerOptions& options, const std::string& peer) {
  return std::find(options.trusted_proxies.begin(), options.trusted_proxies.end(), peer) !=
         options.trusted_proxies.end();
}

}  // namespace

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
  bufferevent* bev = nullptr;
  http_parser parser;
  std::unique_ptr<PendingRequest> pending;
  std::string ip;
  int64_t deadline_ms = 0;  // monotonic; 0: none. WebSocket: when to ping, or (ping_outstanding) to give up
  State state = State::reading;
  bool message_done = false;
  bool close_after_write = false;
  bool ping_outstanding = false;
  WsReadState ws;
  WsHandler* ws_handler = nullptr;
  void* ws_user = nullptr;
  Connection* prev = nullptr;
  Connection* next = nullptr;
};

// http-parser callbacks: they only record; decisions are taken by
// process_input once http_parser_execute returns.
struct ConnectionCallbacks {
  static Connection* conn(http_parser* p) { return static_cast<Connection*>(p->data); }
  static const HttpServerOptions& options(http_parser* p) { return conn(p)->server->options_; }

  static int reject(PendingRequest* r, int status, const char* code, const char* message) {
    r->reject_status = status;
    r->reject_code = code;
    r->reject_message = message;
    return -1;  // stops the parser with HPE_CB_* (on_headers_complete reads 1 as "no body")
  }
  static int count_header(http_parser* p, size_t n) {
    PendingRequest* r = conn(p)->pending.get();
    r->header_bytes += n;
    if (r->header_bytes > options(p).max_header_bytes)
      return reject(r, 431, "headers_too_large", "request line and headers are too large");
    return 0;
  }
  static void flush_header(PendingRequest* r) {
    if (!r->in_value) return;
    for (char& ch : r->field) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r->request.headers.emplace_back(std::move(r->field), std::move(r->value));
    r->field.clear();
    r->value.clear();
    r->in_value = false;
  }

  static int on_message_begin(http_parser* p) {
    Connection* c = conn(p);
    c->pending = std::make_unique<PendingRequest>();
    c->pending->request.remote_addr = c->ip;
    c->deadline_ms = monotonic_ms() + options(p).request_timeout_s * 1000LL;
    return 0;
  }
  static int on_url(http_parser* p, const char* at, size_t n) {
    if (count_header(p, n)) return -1;
    conn(p)->pending->request.path.append(at, n);
    return 0;
  }
  static int on_header_field(http_parser* p, const char* at, size_t n) {
    if (count_header(p, n + 4)) return -1;  // ": " and CRLF count too
    PendingRequest* r = conn(p)->pending.get();
    flush_header(r);
    r->field.append(at, n);
    return 0;
  }
  static int on_header_value(http_parser* p, const char* at, size_t n) {
    if (count_header(p, n)) return -1;
    PendingRequest* r = conn(p)->pending.get();
    r->value.append(at, n);
    r->in_value = true;
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    Connection* c = conn(p);
    PendingRequest* r = c->pending.get();
    flush_header(r);
    HttpRequest& req = r->request;
    req.method = static_cast<http_method>(p->method);
    if (size_t q = req.path.find('?'); q != std::string::npos) {
      req.query = req.path.substr(q + 1);
      req.path.resize(q);
    }
    // Only a trusted proxy's requests are searched for X-Real-IP (usually none).
    if (const std::string* real = is_trusted_proxy(options(p), c->ip) ? req.header("x-real-ip") : nullptr) {
      unsigned char addr[16];
      if (inet_pton(AF_INET, real->c_str(), addr) == 1 || inet_pton(AF_INET6, real->c_str(), addr) == 1)
        req.remote_addr = *real;
    }
    // content_length is ULLONG_MAX when absent (chunked bodies are counted in on_body).
    if (p->content_length != ULLONG_MAX && p->content_length > options(p).max_body_bytes)
      return reject(r, 413, "body_too_large", "request body is too large");
    const std::string* expect = req.header("expect");
    if (expect && strcasecmp(expect->c_str(), "100-continue") == 0)
      bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
  }
  static int on_body(http_parser* p, const char* at, size_t n) {
    PendingRequest* r = conn(p)->pending.get();
    if (r->request.body.size() + n > options(p).max_body_bytes)
      return reject(r, 413, "body_too_large", "request body is too large");
    r->request.body.append(at, n);
    return 0;
  }
  static int on_message_complete(http_parser* p) {
    Connection* c = conn(p);
    c->message_done = true;
    c->pending->request.keep_alive = http_should_keep_alive(p) != 0;
    c->pending->request.upgrade = p->upgrade;
    http_parser_pause(p, 1);  // one request at a time: the rest waits in the buffer
    return 0;
  }
};

namespace {

http_parser_settings make_settings() {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = ConnectionCallbacks::on_message_begin;
  s.on_url = ConnectionCallbacks::on_url;
  s.on_header_field = ConnectionCallbacks::on_header_field;
  s.on_header_value = ConnectionCallbacks::on_header_value;
  s.on_headers_complete = ConnectionCallbacks::on_headers_complete;
  s.on_body = ConnectionCallbacks::on_body;
  s.on_message_complete = ConnectionCallbacks::on_message_complete;
  return s;
}

const http_parser_settings kSettings = make_settings();

std::string address_of(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

void Responder::send(HttpResponse response) const { server_->send(conn_, std::move(response)); }

WsLink Responder::upgrade(std::string_view key, std::string_view protocol, WsHandler* handler, void* user) const {
  Connection* c = conn_;
  if (c->state == Connection::State::closed) {  // the client left before its upgrade was accepted
    delete c;
    return {};
  }
  // RFC 6455 section 4.2.2: accept = base64(SHA-1(key + GUID)).
  std::string accept = base64_encode(sha1(std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
  evbuffer* out = bufferevent_get_output(c->bev);
  evbuffer_add_printf(out,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n",
                      accept.c_str());
  if (!protocol.empty())
    evbuffer_add_printf(out, "Sec-WebSocket-Protocol: %.*s\r\n", static_cast<int>(protocol.size()), protocol.data());
  evbuffer_add(out, "\r\n", 2);
  server_->metrics_.count_request("/webrtc/ws", "GET", 101);
  c->state = Connection::State::websocket;
  c->ws_handler = handler;
  c->ws_user = user;
  c->ping_outstanding = false;
  c->deadline_ms = monotonic_ms() + server_->options_.ws_ping_interval_s * 1000LL;
  bufferevent_enable(c->bev, EV_READ);
  // Bytes the client sent right after its request are already buffered.
  server_->process_websocket(c);
  return WsLink(server_, c);
}

void WsLink::send(std::string_view text) const { server_->ws_send(conn_, kWsText, text); }

void WsLink::close(uint16_t code, std::string_view reason) const {
  if (conn_->state != Connection::State::websocket) return;
  ws_write_close(bufferevent_get_output(conn_->bev), code, reason);
  conn_->state = Connection::State::closing;
  bufferevent_disable(conn_->bev, EV_READ);
}

void* WsLink::user() const { return conn_->ws_user; }
const std::string& WsLink::remote_addr() const { return conn_->ip; }

HttpServer::HttpServer(event_base* base, HttpServerOptions options, Metrics& metrics, HttpHandler handler)
    : base_(base), options_(std::move(options)), metrics_(metrics), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  if (listener_) evconnlistener_free(listener_);
  if (sweep_) event_free(sweep_);
  on_reap(-1, 0, this);
  if (reap_) event_free(reap_);
  while (head_) {
    Connection* c = head_;
    unlink(c);
    bufferevent_free(c->bev);
    delete c;
  }
}

HttpResponse HttpServer::error_response(int status, std::string_view code, std::string_view message) {
  JsonPtr body(json_object());
  json_t* err = json_object();
  json_put(err, "code", json_str(code));
  json_put(err, "message", json_str(message));
  json_put(body.get(), "error", err);
  HttpResponse r;
  r.status = status;
  r.body = json_dump(body.get());
  return r;
}

bool HttpServer::start(std::string* error) {
  sockaddr_storage ss{};
  int len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, options_.bind_address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(options_.port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, options_.bind_address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(options_.port));
    len = sizeof *v6;
  } else {
    *error = "VYTAL_BIND_ADDRESS: not an IP address: " + options_.bind_address;
    return false;
  }
  std::string spec = options_.bind_address + " port " + std::to_string(options_.port);
  listener_ = evconnlistener_new_bind(base_, &HttpServer::on_accept, this,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
                                      reinterpret_cast<sockaddr*>(&ss), len);
  if (listener_) evconnlistener_set_error_cb(listener_, &HttpServer::on_accept_error);
  if (!listener_) {
    *error = "cannot listen on " + spec + ": " + std::strerror(errno);
    return false;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(evconnlistener_get_fd(listener_), reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  sweep_ = event_new(base_, -1, EV_PERSIST, &HttpServer::on_sweep, this);
  timeval quarter_second{0, 250000};  // deadlines and WebSocket pings are checked at this grain
  event_add(sweep_, &quarter_second);
  reap_ = event_new(base_, -1, 0, &HttpServer::on_reap, this);
  return true;
}

void HttpServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) {
  auto* self = static_cast<HttpServer*>(arg);
  std::string ip = address_of(addr);
  const char* refusal = nullptr;
  if (self->open_ >= static_cast<size_t>(self->options_.max_connections))
    refusal = "max_connections";
  else if (self->per_ip_[ip] >= self->options_.max_connections_per_ip)
    refusal = "max_connections_per_ip";
  if (refusal) {
    // Answer without allocating anything: a fixed response, then close.
    static const char kBusy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
        "Content-Length: 74\r\n\r\n{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many "
        "connections\"}}";
    ssize_t ignored = ::send(fd, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)ignored;
    evutil_closesocket(fd);
    if (self->per_ip_[ip] == 0) self->per_ip_.erase(ip);
    self->metrics_.count_rejected(refusal);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bufferevent* bev = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    evutil_closesocket(fd);
    return;
  }
  auto* c = new Connection();
  c->server = self;
  c->bev = bev;
  c->ip = std::move(ip);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->deadline_ms = monotonic_ms() + self->options_.request_timeout_s * 1000LL;
  ++self->per_ip_[c->ip];
  ++self->open_;
  self->metrics_.connection_opened();
  self->link(c);
  timeval write_timeout{self->options_.write_timeout_s, 0};
  bufferevent_set_timeouts(bev, nullptr, &write_timeout);
  bufferevent_setcb(bev, &HttpServer::on_read, &HttpServer::on_write, &HttpServer::on_event, c);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void HttpServer::on_accept_error(evconnlistener* listener, void* arg) {
  // Out of descriptors (EMFILE/ENFILE): the pending connection stays in the
  // backlog and accept() would fail again at once. Pause accepting for a
  // moment instead of spinning; connections that close free descriptors.
  auto* self = static_cast<HttpServer*>(arg);
  self->metrics_.count_rejected("accept_failed");
  LOG_WARN("http: accept failed: %s; pausing new connections for 100 ms", std::strerror(errno));
  evconnlistener_disable(listener);
  timeval pause{0, 100000};
  event_base_once(
      self->base_, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* l) { evconnlistener_enable(static_cast<evconnlistener*>(l)); }, listener,
      &pause);
}

void HttpServer::on_read(bufferevent*, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  if (c->state == Connection::State::websocket)
    c->server->process_websocket(c);
  else if (c->state == Connection::State::lingering)
    evbuffer_drain(bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
  else
    c->server->process_input(c);
}

void HttpServer::linger(Connection* c) {
  // Our last bytes (an error response, a close frame) are written. Closing
  // now, with the client's unread bytes still arriving, would make the kernel
  // reset the connection, and the client would lose what it has not read
  // yet. So: send FIN, keep reading and discarding until the client closes
  // or a short while passes (a "lingering close").
  c->state = Connection::State::lingering;
  shutdown(bufferevent_getfd(c->bev), SHUT_WR);
  evbuffer* in = bufferevent_get_input(c->bev);
  evbuffer_drain(in, evbuffer_get_length(in));
  c->deadline_ms = monotonic_ms() + 2000;
  bufferevent_enable(c->bev, EV_READ);
}

void HttpServer::process_websocket(Connection* c) {
  evbuffer* in = bufferevent_get_input(c->bev);
  if (evbuffer_get_length(in) == 0) return;
  // Any frame from the client shows it is alive: the next ping can wait.
  c->ping_outstanding = false;
  c->deadline_ms = monotonic_ms() + options_.ws_ping_interval_s * 1000LL;
  while (c->state == Connection::State::websocket) {
    WsEvent e = ws_read(in, c->ws, options_.ws_max_message_bytes);
    switch (e.kind) {
      case WsEvent::Kind::need_more: return;
      case WsEvent::Kind::message:
        if (e.opcode != kWsText) {
          ws_fail(c, kWsCloseUnsupported, "text messages only", "ws_binary_message");
          return;
        }
        c->ws_handler->on_ws_message(WsLink(this, c), e.payload);
        break;
      case WsEvent::Kind::ping: ws_send(c, kWsPong, e.payload); break;
      case WsEvent::Kind::pong: break;
      case WsEvent::Kind::close:
        // RFC 6455 section 5.5.1: answer with a close (echoing the code), then close.
        ws_write_close(bufferevent_get_output(c->bev),
                       e.close_code == kWsCloseNoStatus ? uint16_t{kWsCloseNormal} : e.close_code, "");
        c->state = Connection::State::closing;
        bufferevent_disable(c->bev, EV_READ);
        return;
      case WsEvent::Kind::error:
        ws_fail(c, e.close_code, "",
                e.close_code == kWsCloseTooBig        ? "ws_message_too_big"
                : e.close_code == kWsCloseInvalidData ? "ws_invalid_utf8"
                : e.close_code == kWsClosePolicy      ? "ws_too_many_fragments"
                                                      : "ws_protocol_error");
        return;
    }
  }
}

void HttpServer::ws_send(Connection* c, uint8_t opcode, std::string_view payload) {
  if (c->state != Connection::State::websocket) return;
  evbuffer* out = bufferevent_get_output(c->bev);
  if (evbuffer_get_length(out) + payload.size() > options_.ws_max_output_bytes) {
    // It stopped reading: drop it rather than buffer without bound. Closed
    // from the reaper, not here: the caller may be broadcasting to a room.
    metrics_.count_rejected("ws_slow_consumer");
    c->state = Connection::State::closing;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    to_close_.push_back(c);
    event_active(reap_, 0, 0);
    return;
  }
  ws_write_frame(out, opcode, payload);
}

void HttpServer::ws_fail(Connection* c, uint16_t code, std::string_view reason, const char* metric) {
  metrics_.count_rejected(metric);
  ws_write_close(bufferevent_get_output(c->bev), code, reason);
  c->state = Connection::State::closing;
  bufferevent_disable(c->bev, EV_READ);
}

void HttpServer::process_input(Connection* c) {
  while (c->state == Connection::State::reading) {
    evbuffer* in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in) == 0) return;
    evbuffer_iovec chunk;
    evbuffer_peek(in, -1, nullptr, &chunk, 1);
    size_t used = http_parser_execute(&c->parser, &kSettings, static_cast<const char*>(chunk.iov_base), chunk.iov_len);
    evbuffer_drain(in, used);
    http_errno err = HTTP_PARSER_ERRNO(&c->parser);
    if (err == HPE_PAUSED && c->message_done) {
      dispatch(c);
      return;
    }
    if (err != HPE_OK) {
      PendingRequest* r = c->pending.get();
      if (r && r->reject_status)
        fail(c, r->reject_status, r->reject_code, r->reject_message, r->reject_code);
      else
        fail(c, 400, "malformed_http", http_errno_description(err), "malformed_http");
      return;
    }
    if (used < chunk.iov_len) {
      fail(c, 400, "malformed_http", "unexpected bytes after the request", "malformed_http");
      return;
    }
  }
}

void HttpServer::dispatch(Connection* c) {
  c->state = Connection::State::waiting;
  c->deadline_ms = 0;
  bufferevent_disable(c->bev, EV_READ);
  std::unique_ptr<PendingRequest> pending = std::move(c->pending);
  c->close_after_write = !pending->request.keep_alive;
  handler_(pending->request, Responder(this, c));
}

void HttpServer::send(Connection* c, HttpResponse&& r) {
  if (c->state == Connection::State::closed) {  // the client left while we worked
    delete c;
    return;
  }
  evbuffer* out = bufferevent_get_output(c->bev);
  evbuffer_add_printf(out,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                      "X-Content-Type-Options: nosniff\r\nConnection: %s\r\n",
                      r.status, http_status_str(static_cast<http_status>(r.status)), r.content_type.c_str(),
                      r.body.size(), c->close_after_write ? "close" : "keep-alive");
  for (const auto& [name, value] : r.headers) evbuffer_add_printf(out, "%s: %s\r\n", name.c_str(), value.c_str());
  evbuffer_add(out, "\r\n", 2);
  // RFC 9110 9.3.2: a HEAD response has the headers of a GET and no body.
  if (c->parser.method != HTTP_HEAD) evbuffer_add(out, r.body.data(), r.body.size());
  c->state = Connection::State::writing;
}

void HttpServer::fail(Connection* c, int status, std::string_view code, std::string_view message, const char* reason) {
  metrics_.count_rejected(reason);
  metrics_.count_request("-", c->pending ? http_method_str(static_cast<http_method>(c->parser.method)) : "-", status);
  LOG_DEBUG("http: %s from %s: %d %.*s", reason, c->ip.c_str(), status, static_cast<int>(message.size()),
            message.data());
  c->pending.reset();
  c->state = Connection::State::waiting;
  c->close_after_write = true;
  bufferevent_disable(c->bev, EV_READ);
  send(c, error_response(status, code, message));
}

void HttpServer::on_write(bufferevent*, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  HttpServer* self = c->server;
  if (c->state == Connection::State::closing) {  // the close frame is out
    self->linger(c);
    return;
  }
  if (c->state != Connection::State::writing) return;
  if (c->close_after_write) {
    self->linger(c);
    return;
  }
  // Response flushed: read the next request (maybe already buffered).
  c->state = Connection::State::reading;
  c->message_done = false;
  c->deadline_ms = monotonic_ms() + self->options_.keepalive_timeout_s * 1000LL;
  http_parser_pause(&c->parser, 0);
  bufferevent_enable(c->bev, EV_READ);
  self->process_input(c);
}

void HttpServer::on_event(bufferevent*, short what, void* arg) {
  auto* c = static_cast<Connection*>(arg);
  if (what & BEV_EVENT_TIMEOUT) c->server->metrics_.count_rejected("write_timeout");
  c->server->close(c);
}

void HttpServer::on_sweep(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<HttpServer*>(arg);
  int64_t now = monotonic_ms();
  for (Connection* c = self->head_; c;) {
    Connection* next = c->next;
    if (c->state == Connection::State::websocket && now >= c->deadline_ms) {
      if (c->ping_outstanding) {
        // No frame since the ping: the client is gone or stuck (RFC 6455 5.5.2).
        self->metrics_.count_rejected("ws_ping_timeout");
        self->close(c);
      } else {
        self->ws_send(c, kWsPing, "");
        c->ping_outstanding = true;
        c->deadline_ms = now + std::max(1000LL, self->options_.ws_ping_interval_s * 500LL);
      }
    } else if (c->state == Connection::State::lingering && now >= c->deadline_ms) {
      self->close(c);
    } else if (c->state == Connection::State::reading && c->deadline_ms && now > c->deadline_ms) {
      if (c->pending)
        self->fail(c, 408, "request_timeout", "the request was not received in time", "request_timeout");
      else
        self->close(c);  // idle keep-alive or a connection that never sent a byte
    }
    c = next;
  }
}

void HttpServer::close(Connection* c) {
  if (c->state == Connection::State::closed) return;
  bool handler_owns = c->state == Connection::State::waiting;
  bool was_websocket = c->ws_handler && c->state != Connection::State::closed;
  unlink(c);
  if (--per_ip_[c->ip] <= 0) per_ip_.erase(c->ip);
  --open_;
  metrics_.connection_closed();
  bufferevent_free(c->bev);
  c->bev = nullptr;
  c->state = Connection::State::closed;
  if (was_websocket) c->ws_handler->on_ws_closed(WsLink(this, c));
  // A handler holding a Responder frees the connection when it answers.
  if (!handler_owns) {
    closing_.push_back(c);
    event_active(reap_, 0, 0);
  }
}

void HttpServer::on_reap(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<HttpServer*>(arg);
  std::vector<Connection*> to_close;
  to_close.swap(self->to_close_);
  for (Connection* c : to_close) self->close(c);
  for (Connection* c : self->closing_) delete c;
  self->closing_.clear();
}

void HttpServer::link(Connection* c) {
  c->next = head_;
  if (head_) head_->prev = c;
  head_ = c;
}

void HttpServer::unlink(Connection* c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    head_ = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
}

}  // namespace vytal
