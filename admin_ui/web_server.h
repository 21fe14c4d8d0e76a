// vytal-admin's HTTP server: libmicrohttpd with its internal polling thread
// (one thread serves every connection; admin traffic is light). This layer
// collects a request (headers, query, a body up to max_body_bytes) and
// hands it to one handler, which returns a WebResponse: a body, or a
// stream that libmicrohttpd pulls from as the client reads (CSV exports in
// flat memory). The handler and every stream run on the server's thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/handles.h"

namespace vytal {

struct WebRequest {
  std::string method;
  std::string path;  // decoded by libmicrohttpd, without the query
  std::string body;
  std::string peer_addr;  // the TCP peer
  MHD_Connection* connection = nullptr;

  // Header and query lookups (case-insensitive header names); null when absent.
  const char* header(const char* name) const;
  const char* query(const char* name) const;
  const char* cookie(const char* name) const;
};

// Produces a response body piece by piece.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Appends the next piece to `out` (up to about `max` bytes); false at the end.
  virtual bool next(std::string& out, size_t max) = 0;
};

struct WebResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::unique_ptr<ResponseStream> stream;  // when set, the body is streamed (chunked)
};

struct WebServerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 3001;  // 0: the kernel picks one
  size_t max_body_bytes = 64 * 1024;
  unsigned connection_limit = 256;
  unsigned per_ip_connection_limit = 64;
  unsigned connection_timeout_s = 30;
};

using WebHandler = std::function<WebResponse(WebRequest& request)>;

class WebServer {
 public:
  WebServer(WebServerOptions options, WebHandler handler);
  // Stops the daemon (its thread joins; open connections are closed).
  ~WebServer() = default;
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  bool start(std::string* error);
  int port() const { return port_; }

 private:
  static MHD_Result on_request(void* self, MHD_Connection* connection, const char* url, const char* method,
                               const char* version, const char* upload_data, size_t* upload_data_size,
                               void** state) noexcept;
  static void on_completed(void* self, MHD_Connection* connection, void** state,
                           MHD_RequestTerminationCode code) noexcept;
  MHD_Result respond(MHD_Connection* connection, WebResponse response);

  WebServerOptions options_;
  WebHandler handler_;
  int port_ = 0;
  MhdDaemonPtr daemon_;  // last: stopped first, while the rest is alive
};

}  // namespace vytal
