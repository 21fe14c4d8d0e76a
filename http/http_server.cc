#include "http/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "http/connection.h"

namespace vytal {

int64_t monotonic_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {

std::string address_of(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

bool write_or_buffer(bufferevent* bev, std::span<const iovec> parts) {
  evbuffer* out = bufferevent_get_output(bev);
  size_t done = 0;
  if (evbuffer_get_length(out) == 0) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(parts.data());
    msg.msg_iovlen = parts.size();
    ssize_t sent = ::sendmsg(bufferevent_getfd(bev), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    done = sent > 0 ? static_cast<size_t>(sent) : 0;  // EAGAIN, or an error the bufferevent will meet
  }
  bool all = true;
  for (const iovec& part : parts) {
    if (done >= part.iov_len) {
      done -= part.iov_len;
      continue;
    }
    evbuffer_add(out, static_cast<const char*>(part.iov_base) + done, part.iov_len - done);
    done = 0;
    all = false;
  }
  return all;
}

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

void Responder::send(HttpResponse response) && {
  // The parser is paused at the end of this request: its method is the request's.
  Connection* c = std::exchange(conn_, nullptr);
  server_->send(c, std::move(response), c->parser.method == HTTP_HEAD);
}

HttpServer::HttpServer(event_base* base, HttpServerOptions options, HttpMetrics& metrics, HttpHandler handler)
    : base_(base), options_(std::move(options)), metrics_(metrics), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  listener_.reset();
  if (local_listener_) {
    local_listener_.reset();
    ::unlink(options_.local_socket_path.c_str());
  }
  sweep_.reset();
  on_reap(-1, 0, this);
  reap_.reset();
  // live_ and awaiting_ free the rest (their bufferevents with them).
}

ConnectionList::~ConnectionList() {
  while (head_) head_ = std::move(head_->next);
}

Connection* ConnectionList::push(std::unique_ptr<Connection> c) {
  if (head_) head_->prev = c.get();
  c->next = std::move(head_);
  head_ = std::move(c);
  return head_.get();
}

std::unique_ptr<Connection> ConnectionList::remove(Connection* c) {
  std::unique_ptr<Connection>& owner = c->prev ? c->prev->next : head_;
  std::unique_ptr<Connection> self = std::move(owner);
  owner = std::move(self->next);
  if (owner) owner->prev = self->prev;
  self->prev = nullptr;
  return self;
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

void HttpServer::refuse(Responder responder, HttpMetrics& metrics, std::string_view route, std::string_view method,
                        int status, std::string_view code, std::string_view message) {
  metrics.count_request(route, method, status);
  metrics.count_rejected(code);
  std::move(responder).send(error_response(status, code, message));
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
  listener_.reset(evconnlistener_new_bind(base_, &HttpServer::on_accept, this,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
                                          reinterpret_cast<sockaddr*>(&ss), len));
  if (listener_) evconnlistener_set_error_cb(listener_.get(), &HttpServer::on_accept_error);
  if (!listener_) {
    *error = "cannot listen on " + spec + ": " + std::strerror(errno);
    return false;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  sweep_.reset(event_new(base_, -1, EV_PERSIST, &HttpServer::on_sweep, this));
  timeval quarter_second{0, 250000};  // deadlines and WebSocket pings are checked at this grain
  event_add(sweep_.get(), &quarter_second);
  reap_.reset(event_new(base_, -1, 0, &HttpServer::on_reap, this));
  return options_.local_socket_path.empty() || start_local(error);
}

bool HttpServer::start_local(std::string* error) {
  const std::string& path = options_.local_socket_path;
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.size() >= sizeof un.sun_path) {
    *error = "local socket path is too long: " + path;
    return false;
  }
  std::memcpy(un.sun_path, path.c_str(), path.size() + 1);
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  struct stat st {};
  if (!dir.empty() && ::stat(dir.c_str(), &st) != 0) {
    LOG_WARN("http: no local channel: directory %s does not exist", dir.c_str());
    return true;
  }
  // A socket left by a previous run (a crash) is replaced; any other file is not.
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  local_listener_.reset(evconnlistener_new_bind(base_, &HttpServer::on_accept, this,
                                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 64,
                                                reinterpret_cast<sockaddr*>(&un), sizeof un));
  if (!local_listener_ || ::chmod(path.c_str(), 0660) != 0) {
    *error = "cannot listen on the local socket " + path + ": " + std::strerror(errno);
    return false;
  }
  evconnlistener_set_error_cb(local_listener_.get(), &HttpServer::on_accept_error);
  return true;
}

void HttpServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) noexcept {
  auto* self = static_cast<HttpServer*>(arg);
  const bool local = addr->sa_family == AF_UNIX;
  if (local) {
    // The local channel serves the appliance's own processes: the same user
    // (vytal-admin runs as signald's user) or root, nobody else.
    ucred peer{};
    socklen_t peer_len = sizeof peer;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0 || (peer.uid != getuid() && peer.uid != 0)) {
      evutil_closesocket(fd);
      self->metrics_.count_rejected("local_peer_refused");
      return;
    }
  }
  std::string ip = local ? std::string("local") : address_of(addr);
  const char* refusal = nullptr;
  if (self->open_ >= static_cast<size_t>(self->options_.max_connections))
    refusal = "max_connections";
  else if (self->per_ip_[ip] >= self->options_.max_connections_per_ip)
    refusal = "max_connections_per_ip";
  if (refusal) {
    // Answer without allocating anything: a fixed response, then close.
    static const char kBusy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: 74\r\n\r\n"
        "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many connections\"}}";
    ssize_t ignored = ::send(fd, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)ignored;
    evutil_closesocket(fd);
    if (self->per_ip_[ip] == 0) self->per_ip_.erase(ip);
    self->metrics_.count_rejected(refusal);
    return;
  }
  int one = 1;
  if (!local) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  BufferEventPtr bev(bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE));
  if (!bev) {
    evutil_closesocket(fd);
    return;
  }
  Connection* c = self->live_.push(std::make_unique<Connection>());
  c->server = self;
  c->bev = std::move(bev);
  c->ip = std::move(ip);
  c->local = local;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->deadline_ms = monotonic_ms() + self->options_.request_timeout_s * 1000LL;
  ++self->per_ip_[c->ip];
  ++self->open_;
  self->metrics_.connection_opened();
  timeval write_timeout{self->options_.write_timeout_s, 0};
  bufferevent_set_timeouts(c->bev.get(), nullptr, &write_timeout);
  bufferevent_setcb(c->bev.get(), &HttpServer::on_read, &HttpServer::on_write, &HttpServer::on_event, c);
  bufferevent_enable(c->bev.get(), EV_READ | EV_WRITE);
}

void HttpServer::on_accept_error(evconnlistener* listener, void* arg) noexcept {
  // Out of descriptors (EMFILE/ENFILE): the pending connection stays in the
  // backlog and accept() would fail again at once. Pause accepting for a
  // moment instead of spinning; connections that close free descriptors.
  auto* self = static_cast<HttpServer*>(arg);
  self->metrics_.count_rejected("accept_failed");
  LOG_WARN("http: accept failed: %s; pausing new connections for 100 ms", std::strerror(errno));
  evconnlistener_disable(listener);
  if (!self->accept_resume_) self->accept_resume_.reset(event_new(self->base_, -1, 0, &on_accept_resume, self));
  timeval pause{0, 100000};
  event_add(self->accept_resume_.get(), &pause);
}

void HttpServer::on_accept_resume(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<HttpServer*>(arg);
  if (self->listener_) evconnlistener_enable(self->listener_.get());
  if (self->local_listener_) evconnlistener_enable(self->local_listener_.get());
}

void HttpServer::on_read(bufferevent*, void* arg) noexcept {
  auto* c = static_cast<Connection*>(arg);
  if (c->state == Connection::State::websocket)
    c->server->process_websocket(c);
  else if (c->state == Connection::State::lingering)
    evbuffer_drain(bufferevent_get_input(c->bev.get()), evbuffer_get_length(bufferevent_get_input(c->bev.get())));
  else if (c->state == Connection::State::reading)
    c->server->process_input(c);
  else  // more bytes while a request is answered: they wait, read once the response is out
    bufferevent_disable(c->bev.get(), EV_READ);
}

void HttpServer::linger(Connection* c) {
  // Our last bytes (an error response, a close frame) are written. Closing
  // now, with the client's unread bytes still arriving, would make the kernel
  // reset the connection, and the client would lose what it has not read
  // yet. So: send FIN, keep reading and discarding until the client closes
  // or a short while passes (a "lingering close").
  c->state = Connection::State::lingering;
  shutdown(bufferevent_getfd(c->bev.get()), SHUT_WR);
  evbuffer* in = bufferevent_get_input(c->bev.get());
  evbuffer_drain(in, evbuffer_get_length(in));
  c->deadline_ms = monotonic_ms() + 2000;
  bufferevent_enable(c->bev.get(), EV_READ);
}

void HttpServer::process_input(Connection* c) {
  while (c->state == Connection::State::reading) {
    evbuffer* in = bufferevent_get_input(c->bev.get());
    if (evbuffer_get_length(in) == 0) return;
    evbuffer_iovec chunk;
    evbuffer_peek(in, -1, nullptr, &chunk, 1);
    if (c->line_check.active) {
      if (const char* why = check_head_lines(c->line_check, static_cast<const char*>(chunk.iov_base), chunk.iov_len)) {
        fail(c, 400, "malformed_http", why, "malformed_http");
        return;
      }
    }
    size_t used = http_parser_execute(&c->parser, &kRequestParserSettings, static_cast<const char*>(chunk.iov_base),
                                      chunk.iov_len);
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
    // The callbacks count the head and the body; a chunked body's framing
    // (chunk sizes, extensions) reaches none of them, and http-parser skips
    // extensions of any length. So an unfinished request's bytes on the wire
    // are counted too, whatever they are: at most twice what the two limits
    // allow.
    PendingRequest* r = c->pending.get();
    if (r && (r->wire_bytes += used) > 2 * (options_.max_header_bytes + options_.max_body_bytes)) {
      fail(c, 413, "body_too_large", "the request is too large on the wire", "body_too_large");
      return;
    }
  }
}

void HttpServer::dispatch(Connection* c) {
  // Reading stays on: a client that waits for its answer sends nothing, and
  // switching read interest off and on again for every request costs two
  // epoll_ctl calls. One that sends more is switched off then (on_read).
  c->state = Connection::State::waiting;
  c->deadline_ms = 0;
  std::unique_ptr<PendingRequest> pending = std::move(c->pending);
  c->close_after_write = !pending->request.keep_alive;
  handler_(pending->request, Responder(this, c));
}

void HttpServer::send(Connection* c, HttpResponse&& r, bool head) {
  if (c->state == Connection::State::closed) {  // the client left while we worked
    release(awaiting_.remove(c));
    return;
  }
  std::string h;
  h.reserve(256);
  h.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ");
  h.append(http_status_str(static_cast<http_status>(r.status))).append("\r\nContent-Type: ").append(r.content_type);
  h.append("\r\nContent-Length: ").append(std::to_string(r.body.size()));
  h.append("\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: ");
  h.append(c->close_after_write ? "close" : "keep-alive").append("\r\n");
  for (const auto& [name, value] : r.headers) h.append(name).append(": ").append(value).append("\r\n");
  h.append("\r\n");
  // RFC 9110 9.3.2: a HEAD response has the headers of a GET and no body.
  iovec parts[2] = {{h.data(), h.size()}, {r.body.data(), head ? 0 : r.body.size()}};
  c->state = Connection::State::writing;
  // Written at once when the socket takes it all: then on_write runs from the
  // loop's deferred queue, and no write interest is registered with epoll.
  if (write_or_buffer(c->bev.get(), parts)) bufferevent_trigger(c->bev.get(), EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}

void HttpServer::fail(Connection* c, int status, std::string_view code, std::string_view message, const char* reason) {
  // http-parser guesses the method from a request line's first letter (and
  // keeps the previous request's): only once the URL has begun is it read.
  bool method_read = c->pending && !c->pending->request.path.empty();
  bool head = method_read && c->parser.method == HTTP_HEAD;
  metrics_.count_rejected(reason);
  metrics_.count_request("-", method_read ? http_method_str(static_cast<http_method>(c->parser.method)) : "-", status);
  LOG_DEBUG("http: %s from %s: %d %.*s", reason, c->ip.c_str(), status, static_cast<int>(message.size()),
            message.data());
  c->pending.reset();
  c->state = Connection::State::waiting;
  c->close_after_write = true;
  bufferevent_disable(c->bev.get(), EV_READ);
  send(c, error_response(status, code, message), head);
}

void HttpServer::on_write(bufferevent*, void* arg) noexcept {
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
  bufferevent_enable(c->bev.get(), EV_READ);
  self->process_input(c);
}

void HttpServer::on_event(bufferevent*, short what, void* arg) noexcept {
  auto* c = static_cast<Connection*>(arg);
  bool answering = c->state == Connection::State::waiting || c->state == Connection::State::writing;
  if ((what & BEV_EVENT_READING) && (what & BEV_EVENT_EOF) && answering)
    return;  // the client stopped sending (reading is off now): it still gets its answer, then the close
  if (what & BEV_EVENT_TIMEOUT) c->server->metrics_.count_rejected("write_timeout");
  c->server->close(c);
}

void HttpServer::on_sweep(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<HttpServer*>(arg);
  int64_t now = monotonic_ms();
  for (Connection* c = self->live_.head(); c;) {
    Connection* next = c->next.get();  // c may be closed (moved off the list) below
    if (c->state == Connection::State::websocket) {
      self->ws_keepalive(c, now);
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
  bool was_websocket = c->ws_handler != nullptr;
  std::unique_ptr<Connection> owned = live_.remove(c);
  if (--per_ip_[c->ip] <= 0) per_ip_.erase(c->ip);
  --open_;
  metrics_.connection_closed();
  ws_forget_output(c);
  c->bev.reset();
  c->state = Connection::State::closed;
  if (was_websocket) c->ws_handler->on_ws_closed(WsLink(this, c));
  // A handler holding a Responder releases the connection when it answers.
  if (handler_owns)
    awaiting_.push(std::move(owned));
  else
    release(std::move(owned));
}

void HttpServer::release(std::unique_ptr<Connection> c) {
  closing_.push_back(std::move(c));
  event_active(reap_.get(), 0, 0);
}

void HttpServer::on_reap(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<HttpServer*>(arg);
  std::vector<Connection*> to_close;
  to_close.swap(self->to_close_);
  for (Connection* c : to_close) self->close(c);
  self->closing_.clear();
}

}  // namespace vytal
