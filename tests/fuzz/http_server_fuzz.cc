// The HTTP request path, end to end: the fuzzer's bytes are what one client
// sends on a real loopback connection to a real HttpServer (http-parser,
// bufferevents, limits, keep-alive, pipelining, the WebSocket upgrade and
// frames), whose handler answers at once, later from the loop, or upgrades
// to an echoing WebSocket. The loop runs until the client has everything.
//
// Invariants, beyond "no sanitizer finding":
// - what the client receives is a sequence of well-formed HTTP/1.1 responses
//   (status line, header lines, exactly one Content-Length, a body of that
//   length; none for HEAD), then, after a 101, well-formed server frames;
// - every request the handler got is answered exactly once, in order, and
//   nothing else is answered but at most one error of the server's own,
//   after which nothing follows; nothing follows "Connection: close" either;
// - every upgraded connection's on_ws_closed runs exactly once;
// - the server ends with no connection open.
//
// The first input byte chooses how the client behaves (see Mode); the rest
// is the byte stream it sends.
#include <event2/event.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_server.h"
#include "loopback.h"

namespace vytal {
namespace {

struct Mode {
  bool vanish;   // close abruptly (reset) after sending, instead of half-closing and reading to the end
  size_t chunk;  // bytes per send, the loop running between sends
};

Mode mode_of(uint8_t b) {
  static const size_t kChunks[] = {0, 1, 7, 64, 0, 0, 512, 3};  // 0: all at once
  return {(b & 1) != 0, kChunks[(b >> 1) & 7]};
}

struct Dispatched {
  http_method method;
  bool upgraded;
};

// What the handler saw during one input.
struct Run {
  std::vector<Dispatched> dispatched;
  int upgrades = 0;
  int ws_closed = 0;
};
Run* run = nullptr;

[[noreturn]] void fail(const std::string& why, std::string_view received) {
  std::fprintf(stderr, "http_server_fuzz: %s\n--- received (%zu bytes) ---\n%.*s\n---\n", why.c_str(), received.size(),
               static_cast<int>(std::min<size_t>(received.size(), 4000)), received.data());
  std::abort();
}

class Echo final : public WsHandler {
 public:
  void on_ws_message(WsLink link, std::string_view text) override {
    if (text == "close") return link.close(1000, "bye");
    link.send(text);
  }
  void on_ws_closed(WsLink) override { ++run->ws_closed; }
};
Echo echo;

HttpResponse answer_for(const HttpRequest& req, size_t seq) {
  HttpResponse r;
  if (req.path.starts_with("/missing")) {
    r = HttpServer::error_response(404, "not_found", "no such thing");
  } else {
    r.body = "{\"seq\":" + std::to_string(seq) + ",\"body\":" + std::to_string(req.body.size()) + "}";
    if (req.path.starts_with("/empty")) r.body.clear();
  }
  r.headers.emplace_back("X-Seq", std::to_string(seq));
  return r;
}

event_base* base = nullptr;

// Deferred answers carry their response ready-made.
struct Later {
  Responder responder;
  HttpResponse response;
};
std::deque<Later> later;

void send_later(evutil_socket_t, short, void*) {
  if (later.empty()) return;
  Later l = std::move(later.front());
  later.pop_front();
  std::move(l.responder).send(std::move(l.response));
}

void handle(HttpRequest& req, Responder responder) {
  size_t seq = run->dispatched.size();
  const std::string* key = req.header("sec-websocket-key");
  bool upgrade = req.upgrade && req.path == "/ws" && key && !key->empty();
  run->dispatched.push_back({req.method, upgrade});
  if (upgrade) {
    const std::string* proto = req.header("sec-websocket-protocol");
    WsLink link =
        std::move(responder).upgrade(*key, proto ? std::string_view(*proto) : std::string_view(), &echo, nullptr);
    if (link) ++run->upgrades;
    return;
  }
  HttpResponse response = answer_for(req, seq);
  if (req.path.starts_with("/later")) {
    later.push_back({std::move(responder), std::move(response)});
    timeval now{0, 0};
    event_base_once(base, -1, EV_TIMEOUT, &send_later, nullptr, &now);
    return;
  }
  std::move(responder).send(std::move(response));
}

HttpServer* server = nullptr;

void set_up() {
  base = event_base_new();
  static HttpMetrics metrics;
  HttpServerOptions options;
  options.max_header_bytes = 2048;  // small, so that the limits are reached
  options.max_body_bytes = 1024;
  options.ws_max_message_bytes = 1024;
  options.ws_max_output_bytes = 4096;
  server = new HttpServer(base, options, metrics, &handle);
  std::string error;
  if (!server->start(&error)) {
    std::fprintf(stderr, "http_server_fuzz: %s\n", error.c_str());
    std::abort();
  }
}

// A cursor over the received bytes.
struct Reader {
  std::string_view s;
  size_t pos = 0;
  bool at_end() const { return pos == s.size(); }
  std::optional<std::string_view> line() {
    size_t e = s.find("\r\n", pos);
    if (e == std::string_view::npos) return std::nullopt;
    std::string_view l = s.substr(pos, e - pos);
    pos = e + 2;
    return l;
  }
};

bool is_digits(std::string_view v) {
  if (v.empty() || v.size() > 9) return false;
  for (char c : v)
    if (c < '0' || c > '9') return false;
  return true;
}

// Server frames (RFC 6455 5.2): FIN set, no RSV bits, unmasked, a known
// opcode, the shortest length form; control frames at most 125 bytes; a
// close is the last frame.
void check_frames(Reader& r) {
  bool closed = false;
  while (!r.at_end()) {
    if (closed) fail("bytes after the server's close frame", r.s);
    if (r.s.size() - r.pos < 2) fail("truncated frame header", r.s);
    auto b = [&](size_t i) { return static_cast<uint8_t>(r.s[r.pos + i]); };
    uint8_t op = b(0) & 0x0F;
    if ((b(0) & 0xF0) != 0x80) fail("server frame without FIN or with RSV bits", r.s);
    if (op != kWsText && op != kWsClose && op != kWsPing && op != kWsPong) fail("server frame opcode", r.s);
    if (b(1) & 0x80) fail("masked server frame", r.s);
    uint64_t len = b(1) & 0x7F;
    size_t header = 2;
    if (len == 126) {
      if (r.s.size() - r.pos < 4) fail("truncated frame header", r.s);
      len = (uint64_t{b(2)} << 8) | b(3);
      if (len < 126) fail("non-minimal frame length", r.s);
      header = 4;
    } else if (len == 127) {
      if (r.s.size() - r.pos < 10) fail("truncated frame header", r.s);
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
      if (len <= 0xFFFF) fail("non-minimal frame length", r.s);
      header = 10;
    }
    if (op >= 0x8 && len > 125) fail("control frame over 125 bytes", r.s);
    if (r.s.size() - r.pos - header < len) fail("truncated frame payload", r.s);
    if (op == kWsClose) {
      if (len == 1) fail("close frame with a 1-byte payload", r.s);
      closed = true;
    }
    r.pos += header + len;
  }
}

// Where the request the server refused begins: after the `dispatched` ones
// it answered, by http-parser's own reading of the same bytes (the CRLFs
// between requests skipped); npos when the bytes do not get that far.
size_t refused_request_start(std::string_view stream, size_t dispatched) {
  if (dispatched == 0) return stream.find_first_not_of("\r\n");
  struct Count {
    size_t completed = 0, target = 0;
  } count{0, dispatched};
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_complete = [](http_parser* p) {
    auto* c = static_cast<Count*>(p->data);
    if (++c->completed == c->target) http_parser_pause(p, 1);
    return 0;
  };
  http_parser p;
  http_parser_init(&p, HTTP_REQUEST);
  p.data = &count;
  for (size_t pos = 0; pos < stream.size();) {
    size_t used = http_parser_execute(&p, &settings, stream.data() + pos, stream.size() - pos);
    pos += used;
    if (HTTP_PARSER_ERRNO(&p) == HPE_PAUSED && count.completed == dispatched)
      return stream.find_first_not_of("\r\n", pos);
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used == 0) break;
  }
  return std::string_view::npos;
}

// Checks the whole byte stream the client received. `complete`: the client
// read until the server closed (otherwise it vanished: a prefix is enough).
void check_responses(std::string_view received, std::string_view sent, bool complete) {
  Reader r{received};
  size_t answered = 0;
  bool closed = false;
  while (!r.at_end()) {
    if (closed) fail("bytes after a response that closed the connection", received);
    auto status_line = r.line();
    if (!status_line) {
      if (complete) fail("unterminated status line", received);
      return;
    }
    std::string_view sl = *status_line;
    if (sl.size() < 13 || sl.substr(0, 9) != "HTTP/1.1 " || !is_digits(sl.substr(9, 3)) || sl[12] != ' ')
      fail("malformed status line", received);
    int status = std::stoi(std::string(sl.substr(9, 3)));
    if (status < 100 || status > 599) fail("status out of range", received);
    std::optional<size_t> content_length;
    std::optional<size_t> seq;
    bool close = false;
    bool headers_done = false;
    while (auto l = r.line()) {
      if (l->empty()) {
        headers_done = true;
        break;
      }
      size_t colon = l->find(": ");
      if (colon == 0 || colon == std::string_view::npos) fail("malformed header line", received);
      std::string_view name = l->substr(0, colon), value = l->substr(colon + 2);
      for (char c : *l)
        if (c == '\r' || c == '\n' || c == '\0') fail("control character in a header line", received);
      if (name == "Content-Length") {
        if (content_length) fail("two Content-Length headers", received);
        if (!is_digits(value)) fail("malformed Content-Length", received);
        content_length = std::stoul(std::string(value));
      } else if (name == "X-Seq") {
        seq = std::stoul(std::string(value));
      } else if (name == "Connection") {
        close = value == "close";
      }
    }
    if (!headers_done) {
      if (complete) fail("unterminated headers", received);
      return;
    }
    if (status == 100) {
      if (content_length) fail("100 Continue with a Content-Length", received);
      continue;
    }
    if (status == 101) {
      if (answered >= run->dispatched.size() || !run->dispatched[answered].upgraded)
        fail("101 for a request that was not upgraded", received);
      ++answered;
      check_frames(r);
      return;
    }
    if (!content_length) fail("response without Content-Length", received);
    bool head;
    if (seq) {
      if (*seq != answered || answered >= run->dispatched.size())
        fail("response out of order, twice, or to no request (X-Seq " + std::to_string(*seq) + ", expected " +
                 std::to_string(answered) + ")",
             received);
      head = run->dispatched[answered].method == HTTP_HEAD;
      ++answered;
    } else {
      // The server's own error (400, 408, 413, 431): the last thing sent.
      if (status < 400) fail("a server response that is not an error", received);
      if (!close) fail("an error response that keeps the connection open", received);
      // Its body may be left out only when it refused a HEAD (RFC 9110
      // 9.3.2); whether the server had read that far depends on how the
      // bytes arrived, so a body is always right.
      size_t start = refused_request_start(sent, answered);
      bool was_head = start != std::string_view::npos && sent.substr(start, 5) == "HEAD ";
      head = was_head && r.s.size() - r.pos == 0;
      if (r.s.size() - r.pos == 0 && !was_head && complete)
        fail("an error response without its body to a request that was not a HEAD", received);
    }
    if (!head) {
      if (r.s.size() - r.pos < *content_length) {
        if (complete) fail("body shorter than its Content-Length", received);
        return;
      }
      r.pos += *content_length;
    }
    closed = close;
  }
  if (complete && !closed && answered != run->dispatched.size())
    fail("a request was not answered: " + std::to_string(run->dispatched.size() - answered) + " missing", received);
}

}  // namespace
}  // namespace vytal

using namespace vytal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!server) set_up();
  if (size == 0) return 0;
  Mode mode = mode_of(data[0]);
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Run r;
  run = &r;
  {
    fuzz::LoopbackClient client(base, server->port());
    // Sent in chunks, the loop running between them, so the parser sees the
    // request arrive in pieces.
    for (size_t at = 0; at < stream.size();) {
      size_t n = mode.chunk ? std::min(mode.chunk, stream.size() - at) : stream.size();
      client.queue(stream.substr(at, n));
      at += n;
      while (!client.write_some()) event_base_loop(base, EVLOOP_ONCE);
      event_base_loop(base, EVLOOP_NONBLOCK);
    }
    if (mode.vanish) {
      for (int i = 0; i < 4; ++i) event_base_loop(base, EVLOOP_NONBLOCK);
    } else {
      client.shutdown_write();
      while (!client.eof) event_base_loop(base, EVLOOP_ONCE);
    }
    check_responses(client.received, stream, !mode.vanish);
  }  // the client's socket closes (a reset) here
  while (server->open_connections() > 0 || !later.empty()) event_base_loop(base, EVLOOP_ONCE);
  event_base_loop(base, EVLOOP_NONBLOCK);  // the reaper frees what was closed
  if (r.ws_closed != r.upgrades)
    fail(std::to_string(r.upgrades) + " upgrades but " + std::to_string(r.ws_closed) + " on_ws_closed", "");
  run = nullptr;
  return 0;
}
