// What systemd hears from a daemon (units with Type=notify): READY=1 once it
// serves, WATCHDOG=1 from its event loop at half of WatchdogSec while an
// optional liveness check passes, STOPPING=1 when it shuts down. Outside
// systemd (no NOTIFY_SOCKET, no WATCHDOG_USEC) every call does nothing.
#pragma once

#include <event2/event.h>

#include <functional>
#include <string>

namespace vytal {

class ServiceNotifier {
 public:
  // `alive` (optional) is asked before each watchdog ping; false skips the
  // ping, so systemd restarts a daemon whose worker thread is stuck.
  explicit ServiceNotifier(event_base* base, std::function<bool()> alive = {});
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  void ready(const std::string& status);
  void stopping();

 private:
  static void on_watchdog(evutil_socket_t, short, void* self);

  std::function<bool()> alive_;
  event* watchdog_ = nullptr;
};

}  // namespace vytal
