// The WebSocket half of HttpServer (RFC 6455): the upgrade, frames read in
// place by ws_codec, pings both ways, close handshakes, and the output caps
// that drop a client which stopped reading (its own bytes over
// ws_max_output_bytes) or, when all clients' unsent bytes together pass
// ws_max_total_output_bytes, the client with the most waiting.
#include <event2/buffer.h>
#include <sys/uio.h>

#include <algorithm>
#include <utility>

#include "common/crypto.h"
#include "http/connection.h"
#include "http/http_server.h"

namespace vytal {
namespace {
constexpr size_t kWsMaxFrameHeader = 10;  // a server frame: 2 bytes, 8 of extended length, no mask
}  // namespace

WsLink Responder::upgrade(std::string_view key, std::string_view protocol, WsHandler* handler, void* user) && {
  return server_->upgrade(std::exchange(conn_, nullptr), key, protocol, handler, user);
}

WsLink HttpServer::upgrade(Connection* c, std::string_view key, std::string_view protocol, WsHandler* handler,
                           void* user) {
  if (c->state == Connection::State::closed) {  // the client left before its upgrade was accepted
    release(awaiting_.remove(c));
    return {};
  }
  // RFC 6455 section 4.2.2: accept = base64(SHA-1(key + GUID)).
  std::string accept = base64_encode(sha1(std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
  evbuffer* out = bufferevent_get_output(c->bev.get());
  evbuffer_add_printf(out,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n",
                      accept.c_str());
  if (!protocol.empty())
    evbuffer_add_printf(out, "Sec-WebSocket-Protocol: %.*s\r\n", static_cast<int>(protocol.size()), protocol.data());
  evbuffer_add(out, "\r\n", 2);
  metrics_.count_request("/webrtc/ws", "GET", 101);
  // From here every byte queued for this client is counted in the total,
  // and uncounted as the kernel takes it (an evbuffer callback: one small
  // entry per WebSocket connection, no copy of the data).
  ws_output_bytes_ += evbuffer_get_length(out);
  c->ws_output_counted = evbuffer_add_cb(out, &HttpServer::on_ws_output, c) != nullptr;
  metrics_.ws_output_bytes = ws_output_bytes_;
  c->state = Connection::State::websocket;
  c->ws_handler = handler;
  c->ws_user = user;
  c->ping_outstanding = false;
  c->deadline_ms = monotonic_ms() + options_.ws_ping_interval_s * 1000LL;
  bufferevent_enable(c->bev.get(), EV_READ);
  // Bytes the client sent right after its request are already buffered.
  process_websocket(c);
  return WsLink(this, c);
}

void WsLink::send(std::string_view text) const { server_->ws_send(conn_, kWsText, text); }

void WsLink::close(uint16_t code, std::string_view reason) const {
  if (conn_->state != Connection::State::websocket) return;
  server_->ws_write_staged(conn_);
  ws_write_close(bufferevent_get_output(conn_->bev.get()), code, reason);
  conn_->state = Connection::State::closing;
  bufferevent_disable(conn_->bev.get(), EV_READ);
}

void* WsLink::user() const { return conn_->ws_user; }
const std::string& WsLink::remote_addr() const { return conn_->ip; }

void HttpServer::process_websocket(Connection* c) {
  bool outer = std::exchange(staging_, true);
  read_websocket(c);
  staging_ = outer;
  if (!outer) ws_write_all_staged();
}

void HttpServer::ws_write_staged(Connection* c) {
  for (size_t i = 0; i < staged_count_; ++i) {
    Staged& st = staged_[i];
    if (st.conn != c || st.bytes.empty()) continue;
    iovec all[1] = {{st.bytes.data(), st.bytes.size()}};
    write_or_buffer(c->bev.get(), all);
    st.bytes.clear();
  }
}

void HttpServer::ws_write_all_staged() {
  for (size_t i = 0; i < staged_count_; ++i) {
    Staged& st = staged_[i];
    // A connection dropped or closed since has no use for them.
    if (!st.bytes.empty() && st.conn->state == Connection::State::websocket && st.conn->bev) {
      iovec all[1] = {{st.bytes.data(), st.bytes.size()}};
      write_or_buffer(st.conn->bev.get(), all);
    }
    st.bytes.clear();
    st.conn = nullptr;
  }
  staged_count_ = 0;
}

void HttpServer::read_websocket(Connection* c) {
  evbuffer* in = bufferevent_get_input(c->bev.get());
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
      case WsEvent::Kind::ping:
        // Counted like messages: a ping flood is not answered pong for ping.
        if (c->ws_handler->on_ws_control(WsLink(this, c))) ws_send(c, kWsPong, e.payload);
        break;
      case WsEvent::Kind::pong: c->ws_handler->on_ws_control(WsLink(this, c)); break;
      case WsEvent::Kind::close:
        // RFC 6455 section 5.5.1: answer with a close (echoing the code), then close.
        ws_write_staged(c);
        ws_write_close(bufferevent_get_output(c->bev.get()),
                       e.close_code == kWsCloseNoStatus ? uint16_t{kWsCloseNormal} : e.close_code, "");
        c->state = Connection::State::closing;
        bufferevent_disable(c->bev.get(), EV_READ);
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
  evbuffer* out = bufferevent_get_output(c->bev.get());
  if (evbuffer_get_length(out) + payload.size() > options_.ws_max_output_bytes) {
    // It stopped reading: drop it rather than buffer without bound.
    ws_drop(c, "ws_slow_consumer");
    return;
  }
  // All clients together: over the global cap the one with the most waiting
  // goes (the slowest reader), until this frame fits. Rare, so a scan.
  while (ws_output_bytes_ + payload.size() + kWsMaxFrameHeader > options_.ws_max_total_output_bytes) {
    Connection* largest = nullptr;
    size_t most = 0;
    for (Connection* o = live_.head(); o; o = o->next.get()) {
      if (!o->ws_output_counted || !o->bev) continue;
      size_t n = evbuffer_get_length(bufferevent_get_output(o->bev.get()));
      if (n > most) most = n, largest = o;
    }
    if (!largest) break;  // nothing left to free: the count is of this frame alone
    ws_drop(largest, "ws_output_memory");
    if (largest == c) return;
  }
  // write_or_buffer: when nothing waits in the output, written now, header and
  // payload in one system call, the buffer taking only what the socket did
  // not; else queued behind what waits. A relayed message then costs no copy
  // and no write interest registered with epoll (which the bufferevent would
  // add now and remove after the next turn).
  unsigned char header[kWsMaxHeaderBytes];
  size_t header_len = ws_frame_header(header, opcode, payload.size());
  if (staging_ && evbuffer_get_length(out) == 0) {
    size_t i = 0;
    while (i < staged_count_ && staged_[i].conn != c) ++i;
    if (i == staged_count_) {
      if (i == staged_.size()) staged_.emplace_back();
      staged_[i].conn = c;
      ++staged_count_;
    }
    staged_[i].bytes.append(reinterpret_cast<const char*>(header), header_len).append(payload);
    return;
  }
  iovec parts[2] = {{header, header_len}, {const_cast<char*>(payload.data()), payload.size()}};
  write_or_buffer(c->bev.get(), parts);
}

void HttpServer::ws_drop(Connection* c, const char* reason) {
  // Closed from the reaper, not here: the caller may be broadcasting to a room.
  metrics_.count_rejected(reason);
  ws_forget_output(c);
  c->state = Connection::State::closing;
  bufferevent_disable(c->bev.get(), EV_READ | EV_WRITE);
  to_close_.push_back(c);
  event_active(reap_.get(), 0, 0);
}

void HttpServer::ws_forget_output(Connection* c) {
  if (!c->ws_output_counted) return;
  evbuffer* out = bufferevent_get_output(c->bev.get());
  evbuffer_remove_cb(out, &HttpServer::on_ws_output, c);
  c->ws_output_counted = false;
  ws_output_bytes_ -= std::min(ws_output_bytes_, evbuffer_get_length(out));
  metrics_.ws_output_bytes = ws_output_bytes_;
}

void HttpServer::on_ws_output(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept {
  auto* c = static_cast<Connection*>(arg);
  HttpServer* self = c->server;
  self->ws_output_bytes_ += info->n_added;
  self->ws_output_bytes_ -= std::min(self->ws_output_bytes_, info->n_deleted);
  self->metrics_.ws_output_bytes = self->ws_output_bytes_;
}

void HttpServer::ws_fail(Connection* c, uint16_t code, std::string_view reason, const char* metric) {
  metrics_.count_rejected(metric);
  ws_write_staged(c);
  ws_write_close(bufferevent_get_output(c->bev.get()), code, reason);
  c->state = Connection::State::closing;
  bufferevent_disable(c->bev.get(), EV_READ);
}

void HttpServer::ws_keepalive(Connection* c, int64_t now) {
  if (now < c->deadline_ms) return;
  if (c->ping_outstanding) {
    // No frame since the ping: the client is gone or stuck (RFC 6455 5.5.2).
    metrics_.count_rejected("ws_ping_timeout");
    close(c);
  } else {
    ws_send(c, kWsPing, "");
    c->ping_outstanding = true;
    c->deadline_ms = now + std::max(1000LL, options_.ws_ping_interval_s * 500LL);
  }
}

}  // namespace vytal
