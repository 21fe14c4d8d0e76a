// vytal-relay-loadgen: the client side of bench/relay (bench/relay/relay.mjs
// starts it, pinned to its own core). Opens both participants of each call
// given in --pairs, joins them, then runs the phases it reads on stdin:
//   phase window <messages in flight per connection> <seconds> <drain seconds>
//   phase rate <messages/s offered> <seconds> <drain seconds>
//   exit
// and answers each with one JSON line on stdout (see load.h).
//
// Bounded: at most --max-connections sockets (the descriptor limit is 20,000
// here), and it exits by itself after --max-seconds or when stdin closes.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/relay/loadgen/load.h"
#include "common/handles.h"

namespace {

using namespace vytal;
using namespace vytal::bench;

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr,
               "vytal-relay-loadgen: %s\n"
               "usage: vytal-relay-loadgen --server IP:PORT --path PATH --dialect vytal|sio --pairs FILE\n"
               "       [--size BYTES] [--sources IP,IP,...] [--max-connections N] [--max-seconds S]\n"
               "--pairs: one call a line, tab-separated: callId userA tokenA userB tokenB\n",
               what.c_str());
  std::exit(2);
}

std::vector<CallPair> read_pairs(const std::string& path) {
  std::ifstream in(path);
  if (!in) usage_error("cannot read " + path);
  std::vector<CallPair> pairs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string s; std::getline(fields, s, '\t');) f.push_back(s);
    if (f.size() != 5) usage_error(path + ": a line without 5 tab-separated fields");
    pairs.push_back({f[0], f[1], f[2], f[3], f[4]});
  }
  return pairs;
}

// The commands on stdin, one a line.
struct Control {
  Load* load = nullptr;
  event_base* base = nullptr;
  CHandle<evbuffer, evbuffer_free> lines{evbuffer_new()};
};

void run_command(Control& ctl, const std::string& line) {
  std::istringstream words(line);
  std::string cmd, mode;
  words >> cmd;
  if (cmd.empty()) return;
  if (cmd == "exit") {
    event_base_loopbreak(ctl.base);
    return;
  }
  PhaseSpec spec;
  double amount = 0;
  if (cmd != "phase" || !(words >> mode >> amount >> spec.seconds >> spec.drain_seconds) ||
      (mode != "window" && mode != "rate") || amount <= 0 || spec.seconds <= 0 || spec.drain_seconds < 0) {
    std::fprintf(stderr, "vytal-relay-loadgen: bad command: %s\n", line.c_str());
    std::exit(2);
  }
  if (ctl.load->phase_running()) {
    std::fprintf(stderr, "vytal-relay-loadgen: a phase is already running\n");
    std::exit(2);
  }
  spec.mode = mode == "window" ? PhaseSpec::Mode::window : PhaseSpec::Mode::rate;
  if (spec.mode == PhaseSpec::Mode::window)
    spec.window = static_cast<unsigned>(amount);
  else
    spec.rate = amount;
  ctl.load->run_phase(spec);
}

void on_stdin(evutil_socket_t fd, short, void* arg) noexcept {
  auto& ctl = *static_cast<Control*>(arg);
  int n = evbuffer_read(ctl.lines.get(), fd, 4096);
  if (n <= 0) {  // the benchmark that started us is gone
    event_base_loopbreak(ctl.base);
    return;
  }
  size_t len = 0;
  while (char* line = evbuffer_readln(ctl.lines.get(), &len, EVBUFFER_EOL_LF)) {
    std::string text(line, len);
    std::free(line);
    run_command(ctl, text);
  }
}

void on_lifetime_over(evutil_socket_t, short, void*) noexcept {
  std::fprintf(stderr, "vytal-relay-loadgen: --max-seconds reached, exiting\n");
  std::_Exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  LoadOptions options;
  std::string server, pairs_file, sources = "127.0.0.1";
  long max_connections = 19000;
  double max_seconds = 1800;
  bool have_dialect = false;
  static const option long_options[] = {{"server", required_argument, nullptr, 's'},
                                        {"path", required_argument, nullptr, 'p'},
                                        {"dialect", required_argument, nullptr, 'd'},
                                        {"pairs", required_argument, nullptr, 'f'},
                                        {"size", required_argument, nullptr, 'b'},
                                        {"sources", required_argument, nullptr, 'a'},
                                        {"max-connections", required_argument, nullptr, 'n'},
                                        {"max-seconds", required_argument, nullptr, 't'},
                                        {nullptr, 0, nullptr, 0}};
  for (int opt; (opt = getopt_long(argc, argv, "", long_options, nullptr)) != -1;) {
    switch (opt) {
      case 's': server = optarg; break;
      case 'p': options.target.path = optarg; break;
      case 'd':
        have_dialect = true;
        if (std::strcmp(optarg, "vytal") == 0)
          options.dialect = Dialect::vytal;
        else if (std::strcmp(optarg, "sio") == 0)
          options.dialect = Dialect::socketio;
        else
          usage_error("--dialect is vytal or sio");
        break;
      case 'f': pairs_file = optarg; break;
      case 'b': options.message_bytes = std::strtoul(optarg, nullptr, 10); break;
      case 'a': sources = optarg; break;
      case 'n': max_connections = std::strtol(optarg, nullptr, 10); break;
      case 't': max_seconds = std::strtod(optarg, nullptr); break;
      default: usage_error("unknown option");
    }
  }
  if (server.empty() || options.target.path.empty() || pairs_file.empty() || !have_dialect)
    usage_error("--server, --path, --dialect and --pairs are required");
  int addr_len = sizeof(options.target.server);
  if (evutil_parse_sockaddr_port(server.c_str(), reinterpret_cast<sockaddr*>(&options.target.server), &addr_len) != 0 ||
      options.target.server.sin_family != AF_INET || options.target.server.sin_port == 0)
    usage_error("--server must be IPv4:PORT");
  options.target.host = server;
  std::stringstream list(sources);
  for (std::string s; std::getline(list, s, ',');) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) usage_error("bad source address " + s);
    options.sources.push_back(a);
  }
  if (options.sources.empty()) usage_error("--sources is empty");
  if (max_seconds <= 0) usage_error("--max-seconds must be positive");

  std::vector<CallPair> pairs = read_pairs(pairs_file);
  if (static_cast<long>(pairs.size()) * 2 > max_connections)
    usage_error(std::to_string(pairs.size() * 2) + " connections are over --max-connections " +
                std::to_string(max_connections));

  // The 1 ms send tick needs a precise clock: by default libevent reads
  // CLOCK_MONOTONIC_COARSE, which moves in jiffies (4 ms at HZ=250), and the
  // tick then fired every 3-6 ms, sending bursts of up to 250 messages.
  event_config* config = event_config_new();
  event_config_set_flag(config, EVENT_BASE_FLAG_PRECISE_TIMER);
  EventBasePtr base(event_base_new_with_config(config));
  event_config_free(config);
  Load load(base.get(), options, pairs);
  Control ctl{&load, base.get()};
  evutil_make_socket_nonblocking(STDIN_FILENO);
  EventPtr stdin_event(event_new(base.get(), STDIN_FILENO, EV_READ | EV_PERSIST, &on_stdin, &ctl));
  event_add(stdin_event.get(), nullptr);
  EventPtr lifetime(evtimer_new(base.get(), &on_lifetime_over, nullptr));
  timeval tv{static_cast<time_t>(max_seconds), 0};
  evtimer_add(lifetime.get(), &tv);
  load.start();
  event_base_dispatch(base.get());
  return 0;
}
