// The limits and addresses of an HttpServer. Depends on nothing, so
// configuration headers can include it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vytal {

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 0;  // 0: the kernel picks one (tests); port() tells which
  size_t max_header_bytes = 8192;
  size_t max_body_bytes = 65536;
  int max_connections = 19500;
  int max_connections_per_ip = 2000;
  // Peers (nginx on loopback) whose X-Real-IP names the client: a request's
  // remote_addr (audit log, logs) is then that address. The per-address
  // connection cap still counts TCP peers.
  std::vector<std::string> trusted_proxies;
  // A Unix socket path for the local channel (empty: none). Connections on
  // it are accepted only from processes of the server's own user or root
  // (SO_PEERCRED), and their requests are marked HttpRequest::local.
  std::string local_socket_path;
  int request_timeout_s = 10;
  int keepalive_timeout_s = 75;
  int write_timeout_s = 30;
  // WebSocket connections (after an upgrade).
  size_t ws_max_message_bytes = 65536;
  int ws_ping_interval_s = 20;
  size_t ws_max_output_bytes = 1 << 20;  // a client this far behind is dropped
  // All WebSocket connections' unsent bytes together; over it the client with
  // the most waiting is dropped (VYTAL_WS_MAX_TOTAL_OUTPUT_BYTES).
  size_t ws_max_total_output_bytes = size_t{512} << 20;
};

}  // namespace vytal
