#include "syncd/metrics_server.h"

#include "common/prometheus.h"

namespace vytal {
namespace {

// Three keepalive periods: one slow or lost round trip does not flap readiness.
constexpr int64_t kReadyWithinMs = 3 * kPgKeepaliveMs;

HttpServerOptions options_for(const SyncdSettings& settings) {
  HttpServerOptions http;
  http.bind_address = settings.metrics_address;
  http.port = settings.metrics_port;
  http.max_connections = 64;
  return http;
}

}  // namespace

MetricsServer::MetricsServer(event_base* base, const SyncdSettings& settings, const SyncStatus& status,
                             const Clock& clock)
    : status_(status),
      clock_(clock),
      server_(base, options_for(settings), http_metrics_,
              [this](HttpRequest& request, Responder responder) { handle(request, std::move(responder)); }) {}

void MetricsServer::handle(const HttpRequest& req, Responder responder) {
  HttpResponse r;
  if (req.path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4";
    render_build_info(r.body);
    render_process_metrics(r.body);
    http_metrics_.render(r.body);
    r.body += status_.render(clock_.now_ms());
  } else if (req.path == "/healthz") {
    r.body = R"({"status":"ok"})";
  } else if (req.path == "/readyz") {
    // Ready while the last PostgreSQL round trip (a batch, or the keepalive
    // every kPgKeepaliveMs while idle) succeeded recently.
    int64_t ok_ms = status_.pg_ok_ms.load();
    bool connected;
    {
      std::lock_guard lock(status_.mu);
      connected = status_.connected;
    }
    if (!connected && ok_ms >= 0)
      r = HttpServer::error_response(503, "not_ready", "PostgreSQL is not reachable");
    else if (ok_ms >= 0 && clock_.monotonic_ms() - ok_ms <= kReadyWithinMs)
      r.body = R"({"status":"ready"})";
    else
      r = HttpServer::error_response(503, "not_ready",
                                     ok_ms < 0 ? "no PostgreSQL round trip has succeeded yet"
                                               : "the last PostgreSQL round trip that succeeded is too old");
  } else {
    r = HttpServer::error_response(404, "not_found", "no such route");
  }
  std::move(responder).send(std::move(r));
}

}  // namespace vytal
