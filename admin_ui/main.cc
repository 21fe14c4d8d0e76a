// vytal-admin: the admin web page's server. main reads the configuration,
// opens admin.db and the call log (read-only), starts the audit shipper and
// libmicrohttpd's thread, and waits for SIGTERM on a small libevent loop
// that also tells systemd it is ready. ARCHITECTURE.md ("vytal-admin")
// follows a request through it.
#include <event2/event.h>

#include <csignal>
#include <memory>
#include <string_view>

#include "admin_ui/admin_api.h"
#include "admin_ui/admin_config.h"
#include "admin_ui/admin_db.h"
#include "admin_ui/audit_outbox.h"
#include "admin_ui/login_throttle.h"
#include "admin_ui/turn_settings_api.h"
#include "admin_ui/web_server.h"
#include "common/clock.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/service_notifier.h"
#include "common/sqlite.h"

namespace {
const char kUsage[] =
    "usage: vytal-admin [--config FILE]...\n"
    "Serves the admin page (VYTAL_ADMIN_BIND:VYTAL_ADMIN_PORT). Reads each FILE in order, then the environment;\n"
    "every key is in docs/CONFIG.md. Accounts: vytalctl admin add NAME --role viewer|operator|admin.\n";
int fail(int exit_code, const std::string& message) { return vytal::exit_with("vytal-admin", exit_code, message); }
}  // namespace

int main(int argc, char** argv) {
  using namespace vytal;
  int exit_code = 0;
  auto parsed = settings_from_command_line(argc, argv, "vytal-admin", kUsage, &read_admin_settings, &exit_code);
  if (!parsed) return exit_code;
  // The --config files, in order: the TURN and settings pages re-read them.
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string_view(argv[i]) == "--config") parsed->config_files.push_back(argv[++i]);
  const AdminSettings settings = std::move(*parsed);
  set_log_level(settings.log_level);
  std::signal(SIGPIPE, SIG_IGN);
  SystemClock clock;

  auto admin_db = open_admin_db(settings.admin_db_path, clock.now_ms());
  if (!admin_db) return fail(1, admin_db.error().message);
  auto shipper_db = open_admin_db(settings.admin_db_path, clock.now_ms());
  if (!shipper_db) return fail(1, shipper_db.error().message);
  SqliteOpenOptions read_only;
  read_only.read_only = true;
  auto call_log = sqlite_open(settings.call_log_path, read_only);
  if (!call_log) return fail(1, "call log: " + call_log.error().message + " (vytal-signald creates it when it starts)");

  std::unique_ptr<AuditShipper> shipper;
  if (settings.signald_control.unix_socket.empty())
    LOG_WARN("vytal-admin: VYTAL_SIGNALD_CONTROL_SOCKET is empty: audit records stay in %s",
             settings.admin_db_path.c_str());
  else
    shipper = std::make_unique<AuditShipper>(std::move(shipper_db.value()), clock, settings.signald_control);

  // Three free failures per account name, twenty per address, then waits
  // doubling from 2 s to 15 min.
  LoginThrottle throttle(clock, ThrottlePolicy{}, ThrottlePolicy{.free_failures = 20});
  AdminApi api(AdminApiDeps{settings, clock, admin_db.value().get(), call_log.value().get(), throttle, shipper.get()});
  WebServer server(settings.web, [&api](WebRequest& request) { return api.handle(request); });
  std::string error;
  if (!server.start(&error)) return fail(1, error);
  LOG_INFO("vytal-admin: listening on %s (call log %s, read-only)",
           http_url(settings.web.bind_address, server.port()).c_str(), settings.call_log_path.c_str());

  EventBasePtr base(event_base_new());
  // On the main thread every 2 s, page open or not (its own admin.db
  // connection: the pages run on libmicrohttpd's thread): vytal-apply's
  // results are audited, and the refusals counted in each session's minute
  // once the minute is over.
  auto housekeeping_db = open_admin_db(settings.admin_db_path, clock.now_ms());
  if (!housekeeping_db) return fail(1, housekeeping_db.error().message);
  struct Housekeeping {
    const std::string& spool;
    AuditOutbox outbox;
    const Clock& clock;
    AuditShipper* shipper;
    ApplyAuditMemory memory;
    RefusalAudit& refusals;
  } housekeeping{settings.apply_spool_dir,
                 AuditOutbox(housekeeping_db.value().get(), clock),
                 clock,
                 shipper.get(),
                 {},
                 api.refusals()};
  EventPtr housekeeping_timer(event_new(
      base.get(), -1, EV_PERSIST,
      [](evutil_socket_t, short, void* arg) {
        auto* h = static_cast<Housekeeping*>(arg);
        int audited = h->spool.empty() ? 0 : audit_apply_results(h->spool, h->outbox, h->clock, h->memory);
        audited += audit_counted_refusals(h->refusals, h->outbox, h->clock, false);
        if (audited > 0 && h->shipper) h->shipper->wake();
      },
      &housekeeping));
  timeval every_two_seconds{2, 0};
  event_add(housekeeping_timer.get(), &every_two_seconds);
  ServiceNotifier systemd(base.get());
  systemd.ready("listening on port " + std::to_string(server.port()));
  run_until_signalled(base.get());
  systemd.stopping();
  LOG_INFO("vytal-admin: stopping");
  return 0;
}
