#include "common/service_notifier.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>

#include "common/log.h"

namespace vytal {

ServiceNotifier::ServiceNotifier(event_base* base, std::function<bool()> alive) : alive_(std::move(alive)) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  watchdog_ = event_new(base, -1, EV_PERSIST, on_watchdog, this);
  uint64_t every = std::max<uint64_t>(usec / 2, 100000);  // a tiny WatchdogSec must not make the loop spin
  timeval half{static_cast<time_t>(every / 1000000), static_cast<suseconds_t>(every % 1000000)};
  event_add(watchdog_, &half);
  LOG_INFO("systemd watchdog: pinging every %llu ms", static_cast<unsigned long long>(every / 1000));
}

ServiceNotifier::~ServiceNotifier() {
  if (watchdog_) event_free(watchdog_);
}

void ServiceNotifier::ready(const std::string& status) { sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str()); }

void ServiceNotifier::stopping() { sd_notify(0, "STOPPING=1"); }

void ServiceNotifier::on_watchdog(evutil_socket_t, short, void* self) {
  auto* n = static_cast<ServiceNotifier*>(self);
  if (n->alive_ && !n->alive_()) {
    LOG_WARN("systemd watchdog: liveness check failed, not pinging");
    return;
  }
  sd_notify(0, "WATCHDOG=1");
}

}  // namespace vytal
