// vytal-syncd: pushes the SQLite call log to the platform's central
// PostgreSQL. The sync loop runs on its own thread (it blocks on
// PostgreSQL); the main thread serves /metrics and /healthz on loopback.
#include <event2/event.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "call_log/schema.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/handles.h"
#include "common/log.h"
#include "common/service_notifier.h"
#include "syncd/metrics_server.h"
#include "syncd/sync_worker.h"
#include "syncd/syncd_config.h"

namespace {
const char kUsage[] =
    "usage: vytal-syncd [--config FILE]... | --help | --version\n"
    "Reads each FILE in order (KEY = value lines; a later file overrides an earlier one), then the\n"
    "environment; every key is in docs/CONFIG.md.\n";
int fail(int exit_code, const std::string& message) { return vytal::exit_with("vytal-syncd", exit_code, message); }
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
  if (!db) return fail(1, "call log: " + db.error().message);
  auto migrated = apply_migrations(db.value().get(), call_log_migrations(), clock.now_ms());
  if (!migrated) return fail(1, "call log: " + migrated.error().message);

  EventBasePtr base(event_base_new());
  SyncStatus status;
  MetricsServer metrics(base.get(), settings, status, clock);
  std::string error;
  if (!metrics.start(&error)) return fail(1, "VYTAL_SYNC_METRICS_PORT: " + error);
  LOG_INFO("syncd: metrics on %smetrics, call log %s, site %s (%s)",
           http_url(settings.metrics_address, metrics.port()).c_str(), settings.db_path.c_str(),
           settings.sync.site_id.c_str(), version_line("vytal-syncd").c_str());

  std::atomic<bool> stop{false};
  SyncWorker worker(std::move(db.value()), settings.pg, settings.sync, status, clock);
  std::thread sync_thread([&] { worker.run(stop); });
  // The watchdog pings only while the sync thread shows progress (each turn
  // of its loop, each row sent one by one, each pruned chunk); the longest
  // legitimate pause is a backoff wait plus one slow PostgreSQL statement.
  int64_t stuck_after_ms = settings.sync.backoff_max_s * 1000 + 300000;
  ServiceNotifier systemd(base.get(), [&] { return clock.monotonic_ms() - status.loop_ms.load() < stuck_after_ms; });
  systemd.ready("syncing site " + settings.sync.site_id);
  run_until_signalled(base.get());
  systemd.stopping();
  stop = true;
  sync_thread.join();
  LOG_INFO("syncd: stopped");
  log_flush();
  return 0;
}
