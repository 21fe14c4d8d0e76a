#include "syncd/metrics_server.h"

namespace vytal {
namespace {

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
    r.body = status_.render(clock_.now_ms());
  } else if (req.path == "/healthz") {
    r.body = R"({"status":"ok"})";
  } else {
    r = HttpServer::error_response(404, "not_found", "no such route");
  }
  std::move(responder).send(std::move(r));
}

}  // namespace vytal
