// vytal-syncd: pushes the SQLite call log to the platform's central
// PostgreSQL. The sync loop runs on its own thread (it blocks on
// PostgreSQL); the main thread serves /metrics and /healthz on loopback.
#include <event2/event.h>
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "common/config.h"
#include "common/log.h"
#include "signald/call_log_schema.h"
#include "signald/http_server.h"
#include "signald/metrics.h"
#include "signald/service_notifier.h"
#include "signald/sync_worker.h"
#include "signald/syncd_config.h"

namespace {

const char kUsage[] =
    "usage: vytal-syncd [--config FILE]...\n"
    "Reads each FILE in order (KEY = value lines; a later file overrides an earlier one), then the\n"
    "environment; every key is in docs/CONFIG.md.\n";

std::atomic<bool> g_stop{false};

void on_signal(evutil_socket_t, short, void* base) {
  g_stop = true;
  event_base_loopexit(static_cast<event_base*>(base), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vytal;
  int exit_code = 0;
  auto parsed = settings_from_command_line(argc, argv, "vytal-syncd", kUsage, &read_syncd_settings, &exit_code);
  if (!parsed) return exit_code;
  SyncdSettings settings = std::move(*parsed);
  set_log_level(settings.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  SystemClock clock;

  // The call log may not exist yet (signald never ran): the same migrations
  // signald applies make it, whichever process comes first.
  auto db = sqlite_open(settings.db_path, SqliteOpenOptions{});
  if (!db) {
    std::fprintf(stderr, "vytal-syncd: call log: %s\n", db.error().message.c_str());
    return 1;
  }
  auto migrated = apply_migrations(db.value().get(), call_log_migrations(), clock.now_ms());
  if (!migrated) {
    std::fprintf(stderr, "vytal-syncd: call log: %s\n", migrated.error().message.c_str());
    return 1;
  }

  std::unique_ptr<event_base, void (*)(event_base*)> base(event_base_new(), event_base_free);
  SyncStatus status;
  Metrics http_metrics;
  HttpServerOptions http;
  http.bind_address = settings.metrics_address;
  http.port = settings.metrics_port;
  http.max_connections = 64;
  HttpServer server(base.get(), http, http_metrics, [&](HttpRequest& req, Responder responder) {
    HttpResponse r;
    if (req.path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = status.render(clock.now_ms());
    } else if (req.path == "/healthz") {
      r.body = R"({"status":"ok"})";
    } else {
      r = HttpServer::error_response(404, "not_found", "no such route");
    }
    responder.send(std::move(r));
  });
  std::string error;
  if (!server.start(&error)) {
    std::fprintf(stderr, "vytal-syncd: VYTAL_SYNC_METRICS_PORT: %s\n", error.c_str());
    return 1;
  }
  LOG_INFO("syncd: metrics on http://%s:%d/metrics, call log %s, site %s", settings.metrics_address.c_str(),
           server.port(), settings.db_path.c_str(), settings.sync.site_id.c_str());

  SyncWorker worker(std::move(db.value()), settings.pg, settings.sync, status, clock);
  std::thread sync_thread([&] { worker.run(g_stop); });

  event* sigterm = evsignal_new(base.get(), SIGTERM, on_signal, base.get());
  event* sigint = evsignal_new(base.get(), SIGINT, on_signal, base.get());
  event_add(sigterm, nullptr);
  event_add(sigint, nullptr);
  // The watchdog pings only while the sync thread shows progress (each turn
  // of its loop, each row sent one by one, each pruned chunk); the longest
  // legitimate pause is a backoff wait plus one slow PostgreSQL statement.
  int64_t stuck_after_ms = settings.sync.backoff_max_s * 1000 + 300000;
  ServiceNotifier systemd(base.get(), [&] { return clock.monotonic_ms() - status.loop_ms.load() < stuck_after_ms; });
  systemd.ready("syncing site " + settings.sync.site_id);
  event_base_dispatch(base.get());
  systemd.stopping();
  g_stop = true;
  sync_thread.join();
  LOG_INFO("syncd: stopped");
  event_free(sigterm);
  event_free(sigint);
  return 0;
}
