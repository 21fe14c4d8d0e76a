// Reading one request: http-parser's callbacks, which only record what they
// see into the connection's PendingRequest (limits checked as bytes arrive),
// and the check of the head's line endings that runs before http-parser sees
// the bytes (RFC 9112: CRLF only, no obs-fold).
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>

#include "http/connection.h"

namespace vytal {

namespace {

bool is_trusted_proxy(const HttpServerOptions& options, const std::string& peer) {
  return std::find(options.trusted_proxies.begin(), options.trusted_proxies.end(), peer) !=
         options.trusted_proxies.end();
}

}  // namespace

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
  static int flush_header(PendingRequest* r) {
    if (!r->in_value) return 0;
    // A CR or LF inside a value is a folded or smuggled line, never data.
    if (r->value.find_first_of("\r\n") != std::string::npos)
      return reject(r, 400, "malformed_http", "a header value contains a line break");
    for (char& ch : r->field) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r->request.headers.emplace_back(std::move(r->field), std::move(r->value));
    r->field.clear();
    r->value.clear();
    r->in_value = false;
    return 0;
  }

  static int on_message_begin(http_parser* p) {
    Connection* c = conn(p);
    c->pending = std::make_unique<PendingRequest>();
    c->pending->request.remote_addr = c->ip;
    c->pending->request.local = c->local;
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
    // Chunked trailers (RFC 9112 7.1.2) are dropped: a field sent after the
    // body must not act as a header (an Authorization only in a trailer).
    if (r->headers_done) return 0;
    if (flush_header(r)) return -1;
    r->field.append(at, n);
    return 0;
  }
  static int on_header_value(http_parser* p, const char* at, size_t n) {
    if (count_header(p, n)) return -1;
    PendingRequest* r = conn(p)->pending.get();
    if (r->headers_done) return 0;
    r->value.append(at, n);
    r->in_value = true;
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    Connection* c = conn(p);
    PendingRequest* r = c->pending.get();
    if (flush_header(r)) return -1;
    r->headers_done = true;
    HttpRequest& req = r->request;
    req.method = static_cast<http_method>(p->method);
    // This is an HTTP/1 server: "HTTP/2.0" or "HTTP/9.9" in a request line is
    // not a request it understands.
    if (p->http_major != 1 || p->http_minor > 1)
      return reject(r, 400, "malformed_http", "only HTTP/1.0 and HTTP/1.1 requests are served");
    // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host header.
    int hosts = 0;
    for (const auto& [name, value] : req.headers) hosts += name == "host";
    if ((p->http_minor == 1 && hosts == 0) || hosts > 1)
      return reject(r, 400, "malformed_http", "an HTTP/1.1 request needs exactly one Host header");
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
    // RFC 9110 10.1.1: an HTTP/1.0 client's 100-continue is ignored.
    const std::string* expect = p->http_minor == 1 ? req.header("expect") : nullptr;
    if (expect && strcasecmp(expect->c_str(), "100-continue") == 0)
      bufferevent_write(c->bev.get(), "HTTP/1.1 100 Continue\r\n\r\n", 25);
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
    c->line_check = HeaderLineCheck{};  // the next request's lines are checked from its first byte
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

}  // namespace

const http_parser_settings kRequestParserSettings = make_settings();

const char* check_head_lines(HeaderLineCheck& k, const char* p, size_t n) {
  for (size_t i = 0; i < n && k.active; ++i) {
    char ch = p[i];
    if (ch == '\n') {
      if (!k.prev_cr) return "a line ends with a bare LF; HTTP/1.1 lines end with CRLF";
      if (k.line_open)
        k.seen_line = true;
      else if (k.seen_line)
        k.active = false;  // the blank line: the head is complete
      k.line_open = false;
    } else {
      if (k.prev_cr) return "a CR not followed by LF";
      if (ch != '\r') {
        if (!k.line_open && k.seen_line && (ch == ' ' || ch == '\t'))
          return "obs-fold (a header line continued on the next line) is not accepted";
        k.line_open = true;
      }
    }
    k.prev_cr = ch == '\r';
  }
  return nullptr;
}

}  // namespace vytal
