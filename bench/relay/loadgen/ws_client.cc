#include "bench/relay/loadgen/ws_client.h"

#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/crypto.h"

namespace vytal::bench {

namespace {

constexpr std::string_view kWsGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 section 1.3
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxHandshakeBytes = 16 * 1024;
constexpr size_t kMaxMessageBytes = 1 << 20;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

WsClient::WsClient(event_base* base, WsHandler& handler, void* user)
    : base_(base), handler_(handler), user_(user), in_(evbuffer_new()), out_(evbuffer_new()) {
  std::string seed = random_bytes(sizeof(mask_state_));
  std::memcpy(&mask_state_, seed.data(), sizeof(mask_state_));
  mask_state_ |= 1;  // xorshift must not start at zero
}

WsClient::~WsClient() {
  if (ws_) wslay_frame_context_free(ws_);
  read_event_.reset();
  write_event_.reset();
  if (fd_ >= 0) evutil_closesocket(fd_);
}

bool WsClient::connect(const WsTarget& target, const in_addr& source, std::string_view subprotocols,
                       std::string& error) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = source;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    error = std::string("bind: ") + std::strerror(errno);
    return false;
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&target.server), sizeof(target.server)) != 0 &&
      errno != EINPROGRESS) {
    error = std::string("connect: ") + std::strerror(errno);
    return false;
  }
  read_event_.reset(event_new(base_, fd_, EV_READ | EV_PERSIST, &WsClient::on_readable, this));
  write_event_.reset(event_new(base_, fd_, EV_WRITE, &WsClient::on_writable, this));

  std::string key = base64_encode(random_bytes(16));
  expected_accept_ = base64_encode(sha1(key + std::string(kWsGuid)));
  evbuffer_add_printf(out_.get(),
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                      target.path.c_str(), target.host.c_str(), key.c_str());
  if (!subprotocols.empty())
    evbuffer_add_printf(out_.get(), "Sec-WebSocket-Protocol: %.*s\r\n", static_cast<int>(subprotocols.size()),
                        subprotocols.data());
  evbuffer_add(out_.get(), "\r\n", 2);
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  event_add(write_event_.get(), nullptr);  // writable once connected
  return true;
}

void WsClient::send_text(std::string_view text) {
  if (state_ != State::open) return;
  queue_text(text);
  flush();
}

void WsClient::queue_text(std::string_view text) {
  if (state_ == State::open) send_frame(WSLAY_TEXT_FRAME, text);
}

// The send callback only appends to out_, so wslay takes the whole frame.
void WsClient::send_frame(uint8_t opcode, std::string_view payload) {
  wslay_frame_iocb io{};
  io.fin = 1;
  io.opcode = opcode;
  io.mask = 1;
  io.payload_length = payload.size();
  io.data = reinterpret_cast<const uint8_t*>(payload.data());
  io.data_length = payload.size();
  do {
    ssize_t n = wslay_frame_send(ws_, &io);
    if (n < 0) return fail("wslay could not frame a message");
    io.data += n;
    io.data_length -= static_cast<size_t>(n);
  } while (io.data_length > 0);
}

void WsClient::on_readable(evutil_socket_t, short, void* self) noexcept {
  auto* c = static_cast<WsClient*>(self);
  // read() into the buffer's own space: evbuffer_read would first ask the
  // kernel how much is waiting (an ioctl per read, 4 % of the client's CPU).
  evbuffer_iovec space;
  if (evbuffer_reserve_space(c->in_.get(), kReadChunk, &space, 1) < 1) return c->fail("out of memory");
  ssize_t n = ::read(c->fd_, space.iov_base, std::min(space.iov_len, kReadChunk));
  if (n > 0) {
    space.iov_len = static_cast<size_t>(n);
    evbuffer_commit_space(c->in_.get(), &space, 1);
  }
  if (n == 0) return c->fail("closed by the server (EOF)");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return c->fail(std::string("read: ") + std::strerror(errno));
  }
  if (c->state_ == State::handshake)
    c->read_handshake();
  else if (c->state_ == State::open)
    c->read_frames();
  c->handler_.on_read_done(*c);
}

void WsClient::on_writable(evutil_socket_t, short, void* self) noexcept {
  auto* c = static_cast<WsClient*>(self);
  if (c->state_ == State::connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return c->fail(std::string("connect: ") + std::strerror(err));
    c->state_ = State::handshake;
    event_add(c->read_event_.get(), nullptr);
  }
  c->flush();
}

void WsClient::flush() {
  if (state_ == State::closed || evbuffer_get_length(out_.get()) == 0) return;
  if (evbuffer_write(out_.get(), fd_) < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    return fail(std::string("write: ") + std::strerror(errno));
  // Interest in writability only while the kernel's buffer is full.
  if (evbuffer_get_length(out_.get()) > 0) event_add(write_event_.get(), nullptr);
}

void WsClient::fail(std::string_view why) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  event_del(read_event_.get());
  event_del(write_event_.get());
  evutil_closesocket(fd_);
  fd_ = -1;
  handler_.on_closed(*this, why);
}

// ------------------------------------------------------------ handshake

// http-parser may hand over a field or a value in several pieces.
int WsClient::on_header_field(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<WsClient*>(p->data);
  if (c->last_was_value_) c->header_field_.clear();
  c->last_was_value_ = false;
  c->header_field_.append(at, len);
  return 0;
}

int WsClient::on_header_value(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<WsClient*>(p->data);
  c->last_was_value_ = true;
  if (iequals(c->header_field_, "sec-websocket-accept")) c->accept_.append(at, len);
  return 0;
}

int WsClient::on_headers_complete(http_parser* p) noexcept {
  static_cast<WsClient*>(p->data)->headers_done_ = true;
  return 0;
}

void WsClient::read_handshake() {
  static const http_parser_settings settings = [] {
    http_parser_settings s{};
    s.on_header_field = &WsClient::on_header_field;
    s.on_header_value = &WsClient::on_header_value;
    s.on_headers_complete = &WsClient::on_headers_complete;
    return s;
  }();
  size_t len = evbuffer_get_length(in_.get());
  auto* data = reinterpret_cast<const char*>(evbuffer_pullup(in_.get(), -1));
  size_t parsed = http_parser_execute(&parser_, &settings, data, len);
  if (!headers_done_) {
    if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) return fail(http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
    if (len > kMaxHandshakeBytes) return fail("handshake response too long");
    return;
  }
  if (parser_.status_code != 101 || !parser_.upgrade)
    return fail("handshake refused: HTTP " + std::to_string(parser_.status_code));
  if (accept_ != expected_accept_) return fail("handshake: wrong Sec-WebSocket-Accept");
  evbuffer_drain(in_.get(), parsed);
  header_field_ = std::string();
  accept_ = std::string();
  if (wslay_frame_context_init(&ws_, &wslay_callbacks(), this) != 0) return fail("wslay: out of memory");
  state_ = State::open;
  handler_.on_open(*this);
  if (state_ == State::open && evbuffer_get_length(in_.get()) > 0) read_frames();
}

// ------------------------------------------------------------ frames

void WsClient::read_frames() {
  while (state_ == State::open) {
    wslay_frame_iocb io{};
    ssize_t n = wslay_frame_recv(ws_, &io);
    if (n == WSLAY_ERR_WANT_READ) return;
    if (n < 0) return fail("WebSocket protocol error from the server");
    if (io.mask) return fail("masked frame from the server");  // RFC 6455 section 5.1
    on_frame_chunk(io, static_cast<size_t>(n));
  }
}

// One piece of a frame's payload (wslay hands a frame over in pieces of its
// 4 KiB buffer). A whole message in one piece is passed on where it lies.
void WsClient::on_frame_chunk(const wslay_frame_iocb& io, size_t got) {
  frame_got_ += got;
  bool frame_done = frame_got_ == io.payload_length;
  if (wslay_is_ctrl_frame(io.opcode)) {
    control_.append(reinterpret_cast<const char*>(io.data), got);
    if (!frame_done) return;
    frame_got_ = 0;
    std::string payload = std::move(control_);
    control_.clear();
    if (io.opcode == WSLAY_PING)
      send_frame(WSLAY_PONG, payload), flush();
    else if (io.opcode == WSLAY_CONNECTION_CLOSE)
      fail("close frame from the server");
    return;
  }
  std::string_view piece(reinterpret_cast<const char*>(io.data), got);
  if (frame_done) frame_got_ = 0;
  if (frame_done && io.fin && message_.empty()) {
    if (io.opcode == WSLAY_TEXT_FRAME) handler_.on_message(*this, piece);
    return;
  }
  if (message_.empty()) message_opcode_ = io.opcode;
  if (message_.size() + got > kMaxMessageBytes) return fail("message from the server over 1 MiB");
  message_.append(piece);
  if (frame_done && io.fin) {
    std::string text = std::move(message_);
    message_.clear();
    if (message_opcode_ == WSLAY_TEXT_FRAME) handler_.on_message(*this, text);
  }
}

ssize_t WsClient::wslay_recv(uint8_t* buf, size_t len, int, void* self) noexcept {
  auto* c = static_cast<WsClient*>(self);
  int n = evbuffer_remove(c->in_.get(), buf, len);
  return n > 0 ? n : -1;  // wslay_frame_recv then returns WSLAY_ERR_WANT_READ
}

ssize_t WsClient::wslay_send(const uint8_t* data, size_t len, int, void* self) noexcept {
  auto* c = static_cast<WsClient*>(self);
  return evbuffer_add(c->out_.get(), data, len) == 0 ? static_cast<ssize_t>(len) : -1;
}

// The mask only has to vary (RFC 6455 section 5.3): the server under test
// does not care how unpredictable it is, so xorshift64 keeps it cheap.
int WsClient::wslay_genmask(uint8_t* buf, size_t len, void* self) noexcept {
  auto* c = static_cast<WsClient*>(self);
  for (size_t i = 0; i < len; i += sizeof(uint64_t)) {
    c->mask_state_ ^= c->mask_state_ << 13;
    c->mask_state_ ^= c->mask_state_ >> 7;
    c->mask_state_ ^= c->mask_state_ << 17;
    std::memcpy(buf + i, &c->mask_state_, std::min(len - i, sizeof(uint64_t)));
  }
  return 0;
}

const wslay_frame_callbacks& WsClient::wslay_callbacks() {
  static const wslay_frame_callbacks callbacks = {&WsClient::wslay_send, &WsClient::wslay_recv,
                                                  &WsClient::wslay_genmask};
  return callbacks;
}

}  // namespace vytal::bench
