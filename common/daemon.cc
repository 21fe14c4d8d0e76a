#include "common/daemon.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>

#include "common/files.h"
#include "common/handles.h"
#include "common/log.h"

namespace vytal {

int exit_with(const char* program, int exit_code, std::string_view message) {
  std::fprintf(stderr, "%s: %.*s\n", program, static_cast<int>(message.size()), message.data());
  return exit_code;
}

Result<bool> make_parent_dir(const std::string& file, const char* key) {
  std::string error;
  if (!make_dir(file.substr(0, file.rfind('/')), 0750, &error))
    return Error{"data_dir", std::string(key) + ": cannot create " + error};
  return true;
}

void raise_descriptor_limit(int connections) {
  // Every connection is a descriptor: raise the soft limit as far as the
  // hard one allows, and say so when the connection cap cannot be reached.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < static_cast<rlim_t>(connections) + 64)
    LOG_WARN("only %llu descriptors allowed; VYTAL_MAX_CONNECTIONS=%d cannot be reached (raise LimitNOFILE)",
             static_cast<unsigned long long>(files.rlim_cur), connections);
}

std::string http_url(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/";
}

void run_until_signalled(event_base* base) {
  auto stop = [](evutil_socket_t, short, void* b) noexcept {
    event_base_loopexit(static_cast<event_base*>(b), nullptr);
  };
  EventPtr sigterm(evsignal_new(base, SIGTERM, stop, base));
  EventPtr sigint(evsignal_new(base, SIGINT, stop, base));
  event_add(sigterm.get(), nullptr);
  event_add(sigint.get(), nullptr);
  event_base_dispatch(base);
}

}  // namespace vytal
