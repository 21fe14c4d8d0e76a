// vytal-signald: signaling, the REST call API and the call log's writer.
// main reads the configuration, builds the objects and runs the event loop;
// ARCHITECTURE.md follows one request through them.
#include <event2/event.h>
#include <event2/thread.h>

#include <csignal>
#include <cstdio>

#include "call_log/call_log.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/handles.h"
#include "common/log.h"
#include "common/service_notifier.h"
#include "http/http_server.h"
#include "signald/appliance_gauges.h"
#include "signald/call_events_log.h"
#include "signald/internal/internal_api.h"
#include "signald/internal/live_api.h"
#include "signald/metrics.h"
#include "signald/rest/rest_api.h"
#include "signald/signald_config.h"
#include "signald/signaling/signaling.h"
#include "signald/turn_link.h"

namespace {
const char kUsage[] =
    "usage: vytal-signald [--config FILE]... | --help | --version\n"
    "Reads each FILE in order (KEY = value lines; a later file overrides an earlier one), then the\n"
    "environment; every key is in docs/CONFIG.md.\n";
int fail(int exit_code, const std::string& message) { return vytal::exit_with("vytal-signald", exit_code, message); }
}  // namespace

int main(int argc, char** argv) {
  using namespace vytal;
  int exit_code = 0;
  auto parsed = settings_from_command_line(argc, argv, "vytal-signald", kUsage, &read_signald_settings, &exit_code);
  if (!parsed) return exit_code;
  SignaldSettings settings = std::move(*parsed);
  set_log_level(settings.log_level);
  if (settings.weak_jwt_secret)
    LOG_WARN(
        "signald: JWT_SECRET is %zu bytes; HS256 needs at least %zu random bytes to resist guessing "
        "(set VYTAL_REQUIRE_STRONG_JWT_SECRET=true to refuse it, or use RS256/ES256)",
        settings.jwt.secret.size(), kMinJwtSecretBytes);
  auto jwt = JwtVerifier::create(settings.jwt);
  if (!jwt) return fail(2, "configuration error: " + jwt.error().message);
  if (auto made = make_parent_dir(settings.call_log.db_path, "VYTAL_DATA_DIR"); !made)
    return fail(1, made.error().message);
  std::signal(SIGPIPE, SIG_IGN);
  raise_descriptor_limit(settings.http.max_connections);

  evthread_use_pthreads();  // the commit thread wakes the loop with event_active
  EventBasePtr base(event_base_new());
  Metrics metrics;
  SystemClock clock;
  auto call_log = CallLog::open(base.get(), settings.call_log, clock, metrics.commits,
                                [&metrics](const char* reason) { metrics.count_rejected(reason); });
  if (!call_log) return fail(1, "call log: " + call_log.error().message);
  CallLog& log = *call_log.value();
  if (auto counts = log.reader().count_by_status()) metrics.set_call_counts(counts.value());
  log.observe([&metrics](const CallUpdate& u) {
    metrics.call_changed(u);
    log_call_update(u);
  });
  ApplianceGauges gauges(base.get(), settings.monitoring, settings.ice.keyring_path, clock);
  gauges.start();
  metrics.gauges = &gauges;

  const IceSettings& ice = settings.ice;
  TurnLink turn(base.get(),
                TurnLinkOptions{ice.turn_secret, ice.keyring_path, ice.revoked_path, ice.usage_socket, ice.ttl_s,
                                ice.max_revocations},
                log, metrics, clock);
  std::string error;
  if (!turn.start(&error)) return fail(1, error);
  Signaling signaling(SignalingDeps{settings, jwt.value(), log, metrics, clock, base.get(), turn});
  RestApi api(RestApiDeps{settings, jwt.value(), log, metrics, clock, signaling, turn});
  // The local channel (a Unix socket) serves internal routes only; TCP never does.
  InternalApi internal(log, metrics, clock.now_ms());
  LiveApi live(signaling, turn, metrics, clock);
  HttpServer server(base.get(), settings.http, metrics, [&](HttpRequest& request, Responder responder) {
    if (request.local && LiveApi::handles(request)) return live.handle(request, std::move(responder));
    if (request.local) return internal.handle(request, std::move(responder));
    api.handle(request, std::move(responder));
  });
  if (!server.start(&error)) return fail(1, error);

  LOG_INFO("signald: %s listening on %s (call log %s)", version_line("vytal-signald").c_str(),
           http_url(settings.http.bind_address, server.port()).c_str(), settings.call_log.db_path.c_str());
  // The watchdog pings while the loop turns and the call log's writes finish.
  ServiceNotifier systemd(base.get(), [&log] { return log.making_progress(60000); });
  systemd.ready("listening on port " + std::to_string(server.port()));
  run_until_signalled(base.get());
  systemd.stopping();
  LOG_INFO("signald: stopping");
  log_flush();
  return 0;
}
