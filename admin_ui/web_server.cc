#include "admin_ui/web_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace vytal {
namespace {

// Per-request state between libmicrohttpd's calls of the access handler.
struct PendingRequest {
  std::string body;
  bool too_large = false;
};

std::string address_of(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (!sa) return buf;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

// A stream and the part of its last piece not yet handed to libmicrohttpd.
struct StreamState {
  std::unique_ptr<ResponseStream> stream;
  std::string pending;
  size_t offset = 0;
};

ssize_t read_stream(void* cls, uint64_t, char* buf, size_t max) noexcept {
  auto* st = static_cast<StreamState*>(cls);
  try {
    while (st->offset == st->pending.size()) {
      st->pending.clear();
      st->offset = 0;
      if (!st->stream->next(st->pending, max)) return MHD_CONTENT_READER_END_OF_STREAM;
    }
  } catch (...) {
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  size_t n = std::min(max, st->pending.size() - st->offset);
  std::memcpy(buf, st->pending.data() + st->offset, n);
  st->offset += n;
  return static_cast<ssize_t>(n);
}

void free_stream(void* cls) noexcept { delete static_cast<StreamState*>(cls); }

}  // namespace

const char* WebRequest::header(const char* name) const {
  return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}
const char* WebRequest::query(const char* name) const {
  return MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, name);
}
const char* WebRequest::cookie(const char* name) const {
  return MHD_lookup_connection_value(connection, MHD_COOKIE_KIND, name);
}

WebServer::WebServer(WebServerOptions options, WebHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

bool WebServer::start(std::string* error) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
  if (inet_pton(AF_INET, options_.bind_address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(options_.port));
  } else if (inet_pton(AF_INET6, options_.bind_address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(options_.port));
    flags |= MHD_USE_IPv6;
  } else {
    *error = "VYTAL_ADMIN_BIND: not an IP address: " + options_.bind_address;
    return false;
  }
  daemon_.reset(MHD_start_daemon(
      flags, static_cast<uint16_t>(options_.port), nullptr, nullptr, &WebServer::on_request, this, MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&ss), MHD_OPTION_CONNECTION_LIMIT, options_.connection_limit,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, options_.per_ip_connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
      options_.connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, &WebServer::on_completed, this, MHD_OPTION_END));
  if (!daemon_) {
    *error = "cannot listen on " + options_.bind_address + " port " + std::to_string(options_.port) + ": " +
             std::strerror(errno);
    return false;
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_.get(), MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : options_.port;
  return true;
}

MHD_Result WebServer::on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                                 const char*, const char* upload_data, size_t* upload_data_size,
                                 void** state) noexcept {
  auto* self = static_cast<WebServer*>(cls);
  auto* pending = static_cast<PendingRequest*>(*state);
  if (!pending) {  // headers are in; the body (if any) follows in later calls
    *state = new PendingRequest();
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (pending->body.size() + *upload_data_size > self->options_.max_body_bytes)
      pending->too_large = true;
    else
      pending->body.append(upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  try {
    if (pending->too_large) {
      WebResponse r;
      r.status = 413;
      r.body = R"({"error":{"code":"body_too_large","message":"the request body is too large"}})";
      return self->respond(connection, std::move(r));
    }
    WebRequest req;
    req.method = method;
    req.path = url;
    req.body = std::move(pending->body);
    req.connection = connection;
    const MHD_ConnectionInfo* ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    req.peer_addr = address_of(ci ? ci->client_addr : nullptr);
    return self->respond(connection, self->handler_(req));
  } catch (const std::exception& e) {
    LOG_ERROR("vytal-admin: %s %s failed: %s", method, url, e.what());
    WebResponse r;
    r.status = 500;
    r.body = R"({"error":{"code":"internal","message":"the server failed; see its log"}})";
    return self->respond(connection, std::move(r));
  }
}

void WebServer::on_completed(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) noexcept {
  delete static_cast<PendingRequest*>(*state);
  *state = nullptr;
}

MHD_Result WebServer::respond(MHD_Connection* connection, WebResponse r) {
  MhdResponsePtr response;
  if (r.stream) {
    auto* state = new StreamState{std::move(r.stream), {}, 0};  // freed by libmicrohttpd through free_stream
    response.reset(MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, &read_stream, state, &free_stream));
    if (!response) delete state;
  } else {
    response.reset(MHD_create_response_from_buffer(r.body.size(), r.body.data(), MHD_RESPMEM_MUST_COPY));
  }
  if (!response) return MHD_NO;
  MHD_add_response_header(response.get(), MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
  for (const auto& [name, value] : r.headers) MHD_add_response_header(response.get(), name.c_str(), value.c_str());
  return MHD_queue_response(connection, static_cast<unsigned>(r.status), response.get());
}

}  // namespace vytal
