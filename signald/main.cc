// vytal-signald: signaling, the REST call API and the call log writer.
// main parses options, builds the objects and runs the event loop; see
// ARCHITECTURE.md for the path of one request through them.
#include <event2/event.h>
#include <event2/thread.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/log.h"
#include "signald/call_reader.h"
#include "signald/commit_queue.h"
#include "signald/http_server.h"
#include "signald/metrics.h"
#include "signald/rest_api.h"
#include "signald/service_notifier.h"
#include "signald/signald_config.h"
#include "signald/signaling.h"

namespace {

const char kUsage[] =
    "usage: vytal-signald [--config FILE]...\n"
    "Reads each FILE in order (KEY = value lines; a later file overrides an earlier one), then the\n"
    "environment; every key is in docs/CONFIG.md.\n";

void stop_loop(evutil_socket_t, short, void* base) { event_base_loopexit(static_cast<event_base*>(base), nullptr); }

}  // namespace

int main(int argc, char** argv) {
  using namespace vytal;
  int exit_code = 0;
  auto parsed = settings_from_command_line(argc, argv, "vytal-signald", kUsage, &read_signald_settings, &exit_code);
  if (!parsed) return exit_code;
  SignaldSettings settings = std::move(*parsed);
  set_log_level(settings.log_level);
  auto jwt = JwtVerifier::create(settings.jwt);
  if (!jwt) {
    std::fprintf(stderr, "vytal-signald: configuration error: %s\n", jwt.error().message.c_str());
    return 2;
  }

  std::string dir = settings.call_log.db_path.substr(0, settings.call_log.db_path.rfind('/'));
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "vytal-signald: VYTAL_DATA_DIR: cannot create %s: %s\n", dir.c_str(), std::strerror(errno));
    return 1;
  }

  std::signal(SIGPIPE, SIG_IGN);
  // Every connection is a descriptor: raise the soft limit as far as the
  // hard one allows, and say so when the connection cap cannot be reached.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < static_cast<rlim_t>(settings.http.max_connections) + 64)
    LOG_WARN("signald: only %llu descriptors allowed; VYTAL_MAX_CONNECTIONS=%d cannot be reached (raise LimitNOFILE)",
             static_cast<unsigned long long>(files.rlim_cur), settings.http.max_connections);
  evthread_use_pthreads();  // the commit thread wakes the loop with event_active
  std::unique_ptr<event_base, void (*)(event_base*)> base(event_base_new(), event_base_free);
  Metrics metrics;
  SystemClock clock;

  auto commits = CommitQueue::open(base.get(), settings.call_log, clock, metrics);
  if (!commits) {
    std::fprintf(stderr, "vytal-signald: call log: %s\n", commits.error().message.c_str());
    return 1;
  }
  auto read_db = sqlite_open(settings.call_log.db_path, SqliteOpenOptions{.read_only = true});
  if (!read_db) {
    std::fprintf(stderr, "vytal-signald: call log: %s\n", read_db.error().message.c_str());
    return 1;
  }
  CallReader reader(read_db.value().get());
  if (auto counts = reader.count_by_status()) metrics.set_call_counts(counts.value());

  TurnLink turn(base.get(),
                TurnLinkOptions{settings.ice.turn_secret, settings.ice.keyring_path, settings.ice.revoked_path,
                                settings.ice.usage_socket, settings.ice.ttl_s},
                *commits.value(), metrics, clock);
  std::string turn_error;
  if (!turn.start(&turn_error)) {
    std::fprintf(stderr, "vytal-signald: %s\n", turn_error.c_str());
    return 1;
  }
  Signaling signaling(SignalingDeps{settings, jwt.value(), *commits.value(), metrics, clock, base.get(), turn});
  RestApi api(RestApiDeps{settings, jwt.value(), reader, *commits.value(), metrics, clock, signaling, turn});
  HttpServer server(base.get(), settings.http, metrics,
                    [&api](HttpRequest& request, Responder responder) { api.handle(request, responder); });
  std::string error;
  if (!server.start(&error)) {
    std::fprintf(stderr, "vytal-signald: %s\n", error.c_str());
    return 1;
  }

  event* sigterm = evsignal_new(base.get(), SIGTERM, stop_loop, base.get());
  event* sigint = evsignal_new(base.get(), SIGINT, stop_loop, base.get());
  event_add(sigterm, nullptr);
  event_add(sigint, nullptr);

  const std::string& host = settings.http.bind_address;
  LOG_INFO("signald: listening on http://%s%s%s:%d/ (call log %s)", host.find(':') == std::string::npos ? "" : "[",
           host.c_str(), host.find(':') == std::string::npos ? "" : "]", server.port(),
           settings.call_log.db_path.c_str());
  // The watchdog pings while the loop turns and the call log's writes finish.
  ServiceNotifier systemd(base.get(), [&] { return commits.value()->making_progress(60000); });
  systemd.ready("listening on port " + std::to_string(server.port()));
  event_base_dispatch(base.get());
  systemd.stopping();
  LOG_INFO("signald: stopping");
  event_free(sigterm);
  event_free(sigint);
  return 0;
}
