// syncd's loopback HTTP endpoint: /metrics (the sync status in the
// Prometheus text format) and /healthz. Event loop thread only.
#pragma once

#include <event2/event.h>

#include <string>

#include "common/clock.h"
#include "http/http_server.h"
#include "syncd/sync_worker.h"
#include "syncd/syncd_config.h"

namespace vytal {

class MetricsServer {
 public:
  MetricsServer(event_base* base, const SyncdSettings& settings, const SyncStatus& status, const Clock& clock);
  // Binds and listens; false with *error set when it cannot.
  bool start(std::string* error) { return server_.start(error); }
  int port() const { return server_.port(); }

 private:
  void handle(const HttpRequest& request, Responder responder);

  const SyncStatus& status_;
  const Clock& clock_;
  HttpMetrics http_metrics_;
  HttpServer server_;
};

}  // namespace vytal
