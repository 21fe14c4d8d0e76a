#include "bench/relay/loadgen/load.h"

#include <jansson.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace vytal::bench {

namespace {

// A message carries its send time as "~ts" and 16 hex digits of
// CLOCK_MONOTONIC nanoseconds, followed by "~".
constexpr std::string_view kMark = "~ts";
constexpr size_t kTsDigits = 16;
constexpr size_t kSendBufferLimit = 64 * 1024;  // rate mode: a connection this far behind is skipped
constexpr int kLoggedErrors = 5;
constexpr double kLateMicros = 2000;  // the issue's p99 bound
constexpr int64_t kLateWindowNs = 100'000'000;
constexpr size_t kLateWindowsShown = 8;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t cpu_micros() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

timeval to_timeval(double seconds) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  return tv;
}

std::string dump(json_t* value) {
  JsonPtr owned(value);
  char* text = json_dumps(owned.get(), JSON_COMPACT | JSON_ENCODE_ANY);
  std::string out = text ? text : "";
  free(text);
  return out;
}

void print_line(json_t* value) {
  std::string line = dump(value);
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

// One participant's message to `to`, padded so that it is exactly `size`
// bytes; the send time goes at the returned offset.
std::string message_template(Dialect dialect, const std::string& to, size_t size, size_t& ts_at, std::string& error) {
  std::string head = dialect == Dialect::vytal ? R"({"type":"offer","to":)" : R"(42["offer",{"to":)";
  head += dump(json_string(to.c_str()));
  head += R"(,"sdp":{"type":"offer","sdp":")";
  head += kMark;
  std::string tail = dialect == Dialect::vytal ? R"("}})" : R"("}}])";
  size_t fixed = head.size() + kTsDigits + 1 + tail.size();
  if (size < fixed) {
    error = "message size " + std::to_string(size) + " is below " + std::to_string(fixed);
    return {};
  }
  ts_at = head.size();
  return head + std::string(kTsDigits, '0') + "~" + std::string(size - fixed, 'v') + tail;
}

}  // namespace

struct Load::Conn {
  Load* load = nullptr;
  std::unique_ptr<WsClient> ws;
  Conn* peer = nullptr;
  std::string call_id, user, token;
  std::string frame;
  size_t ts_at = 0;
  EventPtr join_timer;
  bool settled = false;
  bool joined = false;
  bool queued = false;  // messages queued by its peer's read, written when that read is done
};

struct Load::Phase {
  PhaseSpec spec;
  std::vector<Conn*> live;
  int64_t starts_at = 0, ends_at = 0;
  uint64_t sent = 0, received = 0, in_time = 0, skipped = 0, stale = 0;
  uint64_t errors0 = 0, closes0 = 0;
  int64_t cpu0 = 0;
  uint64_t due = 0;
  size_t next = 0;
  bool draining = false;
  LatencyHistogram hist;
  // Messages over kLateMicros by the 100 ms window they arrived in: whether a
  // tail comes from one stall or from the whole phase.
  std::vector<uint32_t> late;
  EventPtr tick, end_timer, drain_timer;
};

Load::Load(event_base* base, LoadOptions options, const std::vector<CallPair>& pairs)
    : base_(base), options_(std::move(options)) {
  for (const CallPair& p : pairs) {
    auto a = std::make_unique<Conn>();
    auto b = std::make_unique<Conn>();
    a->call_id = b->call_id = p.call_id;
    a->user = p.user_a;
    a->token = p.token_a;
    b->user = p.user_b;
    b->token = p.token_b;
    a->peer = b.get();
    b->peer = a.get();
    for (Conn* c : {a.get(), b.get()}) {
      std::string error;
      c->frame = message_template(options_.dialect, c->peer->user, options_.message_bytes, c->ts_at, error);
      if (c->frame.empty()) {
        std::fprintf(stderr, "loadgen: %s\n", error.c_str());
        std::exit(2);
      }
      c->load = this;
      c->ws = std::make_unique<WsClient>(base_, *this, c);
    }
    conns_.push_back(std::move(a));
    conns_.push_back(std::move(b));
  }
}

Load::~Load() = default;

// ------------------------------------------------------------ setup

void Load::start() {
  if (conns_.empty()) {
    print_line(json_pack("{s:s, s:i, s:i, s:i}", "ev", "ready", "joined", 0, "failed", 0, "errors", 0));
    return;
  }
  while (in_flight_ < options_.connect_concurrency && next_connect_ < conns_.size()) connect_next();
}

void Load::connect_next() {
  Conn& c = *conns_[next_connect_];
  const in_addr& source = options_.sources[next_connect_ % options_.sources.size()];
  ++next_connect_;
  ++in_flight_;
  c.join_timer.reset(evtimer_new(base_, &Load::on_join_timeout, &c));
  timeval tv = to_timeval(options_.join_timeout_seconds);
  evtimer_add(c.join_timer.get(), &tv);
  std::string protocols = options_.dialect == Dialect::vytal ? "vytal.v1, bearer." + c.token : "";
  std::string error;
  if (!c.ws->connect(options_.target, source, protocols, error)) settle(c, false, error);
}

void Load::settle(Conn& c, bool joined, std::string_view why) {
  if (c.settled) return;
  c.settled = true;
  c.joined = joined;
  c.join_timer.reset();
  if (joined)
    ++joined_;
  else if (settled_ - joined_ < kLoggedErrors)
    std::fprintf(stderr, "loadgen: %s did not join: %.*s\n", c.user.c_str(), static_cast<int>(why.size()), why.data());
  ++settled_;
  --in_flight_;
  if (next_connect_ < conns_.size()) connect_next();
  if (settled_ == conns_.size())
    print_line(json_pack("{s:s, s:I, s:I, s:I}", "ev", "ready", "joined", static_cast<json_int_t>(joined_), "failed",
                         static_cast<json_int_t>(conns_.size() - joined_), "errors", static_cast<json_int_t>(errors_)));
}

void Load::on_join_timeout(evutil_socket_t, short, void* conn) noexcept {
  auto* c = static_cast<Conn*>(conn);
  c->load->settle(*c, false, "join timed out");
}

void Load::on_open(WsClient& ws) {
  Conn& c = *static_cast<Conn*>(ws.user());
  if (options_.dialect == Dialect::vytal)
    ws.send_text(dump(json_pack("{s:s, s:s, s:s}", "type", "join", "callId", c.call_id.c_str(), "requestId", "j")));
  // Socket.IO: the server speaks first (the Engine.IO open packet).
}

void Load::on_closed(WsClient& ws, std::string_view why) {
  Conn& c = *static_cast<Conn*>(ws.user());
  if (!c.settled) return settle(c, false, why);
  if (c.joined) {
    ++closes_;
    if (closes_ <= kLoggedErrors)
      std::fprintf(stderr, "loadgen: %s closed: %.*s\n", c.user.c_str(), static_cast<int>(why.size()), why.data());
  }
}

// ------------------------------------------------------------ messages

void Load::on_message(WsClient& ws, std::string_view text) {
  Conn& c = *static_cast<Conn*>(ws.user());
  // Relayed messages carry the mark; everything else is protocol.
  const void* mark = memmem(text.data(), text.size(), kMark.data(), kMark.size());
  if (mark) return on_relayed(c, text, static_cast<const char*>(mark) - text.data());
  on_control(c, text);
}

void Load::on_control(Conn& c, std::string_view text) {
  if (options_.dialect == Dialect::vytal) {
    JsonPtr msg(json_loadb(text.data(), text.size(), 0, nullptr));
    const char* type = json_string_value(json_object_get(msg.get(), "type"));
    if (!type) return on_error(c, text);
    if (std::strcmp(type, "joined") == 0) return settle(c, true, {});
    if (std::strcmp(type, "error") == 0) return on_error(c, text);
    return;  // participant-joined and the like
  }
  // Engine.IO packet types: 0 open, 2 ping, 3 pong, 4 message; Socket.IO
  // inside 4: 0 connect, 2 event, 4 connect error.
  if (text == "2") return c.ws->send_text("3");
  if (text.starts_with("0{")) return c.ws->send_text("40" + dump(json_pack("{s:s}", "token", c.token.c_str())));
  if (text.starts_with("40"))
    return c.ws->send_text("42" + dump(json_pack("[s, {s:s}]", "join", "callId", c.call_id.c_str())));
  if (text.starts_with("44")) return on_error(c, text);
  if (text.starts_with("42")) {
    JsonPtr event(json_loadb(text.data() + 2, text.size() - 2, 0, nullptr));
    const char* name = json_string_value(json_array_get(event.get(), 0));
    if (!name) return on_error(c, text);
    if (std::strcmp(name, "joined") == 0) return settle(c, true, {});
    if (std::strcmp(name, "error") == 0) return on_error(c, text);
  }
}

void Load::on_error(Conn& c, std::string_view text) {
  ++errors_;
  if (errors_ <= kLoggedErrors)
    std::fprintf(stderr, "loadgen: %s: %.*s\n", c.user.c_str(), static_cast<int>(std::min<size_t>(text.size(), 200)),
                 text.data());
  if (!c.settled) settle(c, false, text);
}

void Load::send(Conn& c, bool at_once) {
  int64_t t = now_ns();
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kTsDigits; ++i) c.frame[c.ts_at + kTsDigits - 1 - i] = kHex[(t >> (4 * i)) & 0xf];
  if (at_once) {
    c.ws->send_text(c.frame);
  } else {
    c.ws->queue_text(c.frame);
    c.queued = true;
  }
  ++phase_->sent;
}

// A read only ever queues messages to its own connection's peer (on_relayed).
void Load::on_read_done(WsClient& ws) {
  Conn& peer = *static_cast<Conn*>(ws.user())->peer;
  if (!peer.queued) return;
  peer.queued = false;
  peer.ws->flush();
}

void Load::on_relayed(Conn& c, std::string_view text, size_t mark) {
  int64_t now = now_ns();
  if (!phase_) return;
  size_t at = mark + kMark.size();
  uint64_t sent_at = 0;
  if (at + kTsDigits > text.size() ||
      std::from_chars(text.data() + at, text.data() + at + kTsDigits, sent_at, 16).ec != std::errc())
    return on_error(c, text);
  if (static_cast<int64_t>(sent_at) < phase_->starts_at) {
    ++phase_->stale;  // sent in an earlier phase that stopped waiting for it
    return;
  }
  double micros = static_cast<double>(now - static_cast<int64_t>(sent_at)) / 1000.0;
  phase_->hist.record(micros);
  if (micros > kLateMicros) {
    auto window = static_cast<size_t>((now - phase_->starts_at) / kLateWindowNs);
    if (window >= phase_->late.size()) phase_->late.resize(window + 1);
    ++phase_->late[window];
  }
  ++phase_->received;
  if (now <= phase_->ends_at) ++phase_->in_time;
  if (phase_->spec.mode == PhaseSpec::Mode::window && !phase_->draining && now < phase_->ends_at) {
    if (c.peer->ws->is_open()) send(*c.peer, false);  // the sender keeps its window full
  } else if (phase_->draining && phase_->sent == phase_->received) {
    finish();
  }
}

// ------------------------------------------------------------ phases

void Load::run_phase(const PhaseSpec& spec) {
  phase_ = std::make_unique<Phase>();
  Phase& p = *phase_;
  p.spec = spec;
  for (auto& c : conns_)
    if (c->joined && c->ws->is_open()) p.live.push_back(c.get());
  p.errors0 = errors_;
  p.closes0 = closes_;
  p.cpu0 = cpu_micros();
  p.starts_at = now_ns();
  p.ends_at = p.starts_at + static_cast<int64_t>(spec.seconds * 1e9);
  p.end_timer.reset(evtimer_new(base_, &Load::on_phase_end, this));
  timeval tv = to_timeval(spec.seconds);
  evtimer_add(p.end_timer.get(), &tv);
  if (spec.mode == PhaseSpec::Mode::window) {
    for (Conn* c : p.live)
      for (unsigned k = 0; k < spec.window; ++k) send(*c);
    return;
  }
  // Fixed offered rate: every millisecond, send what is due since the start,
  // round robin over the connections; one whose output is over the limit is
  // skipped and counted.
  p.tick.reset(event_new(base_, -1, EV_PERSIST, &Load::on_tick, this));
  timeval ms = {0, 1000};
  event_add(p.tick.get(), &ms);
}

void Load::on_tick(evutil_socket_t, short, void* self) noexcept {
  auto* load = static_cast<Load*>(self);
  Phase& p = *load->phase_;
  if (p.draining || p.live.empty()) return;
  int64_t now = now_ns();
  auto target = static_cast<uint64_t>(
      std::floor(static_cast<double>(std::min(now, p.ends_at) - p.starts_at) / 1e9 * p.spec.rate));
  for (; p.due < target; ++p.due) {
    Conn* c = p.live[p.next++ % p.live.size()];
    if (!c->ws->is_open() || c->ws->pending_output() > kSendBufferLimit)
      ++p.skipped;
    else
      load->send(*c);
  }
}

void Load::on_phase_end(evutil_socket_t, short, void* self) noexcept {
  auto* load = static_cast<Load*>(self);
  if (load->phase_->spec.mode == PhaseSpec::Mode::rate) on_tick(-1, 0, self);  // what was due up to the end
  load->drain();
}

void Load::drain() {
  Phase& p = *phase_;
  p.draining = true;
  p.tick.reset();
  if (p.sent == p.received) return finish();
  p.drain_timer.reset(evtimer_new(base_, &Load::on_drain_end, this));
  timeval tv = to_timeval(p.spec.drain_seconds);
  evtimer_add(p.drain_timer.get(), &tv);
}

void Load::on_drain_end(evutil_socket_t, short, void* self) noexcept { static_cast<Load*>(self)->finish(); }

void Load::finish() {
  std::unique_ptr<Phase> p = std::move(phase_);
  json_t* hist = json_array();
  const auto& counts = p->hist.counts();
  for (size_t i = 0; i < counts.size(); ++i)
    if (counts[i])
      json_array_append_new(hist, json_pack("[I, I]", static_cast<json_int_t>(i), static_cast<json_int_t>(counts[i])));
  // The windows with the most late messages, worst first: [start ms, count].
  std::vector<size_t> order;
  for (size_t i = 0; i < p->late.size(); ++i)
    if (p->late[i]) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p->late[a] > p->late[b]; });
  json_t* late = json_array();
  for (size_t i = 0; i < order.size() && i < kLateWindowsShown; ++i)
    json_array_append_new(late, json_pack("[I, I]", static_cast<json_int_t>(order[i] * kLateWindowNs / 1000000),
                                          static_cast<json_int_t>(p->late[order[i]])));
  print_line(json_pack(
      "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "ev", "result", "sent",
      static_cast<json_int_t>(p->sent), "received", static_cast<json_int_t>(p->received), "receivedInTime",
      static_cast<json_int_t>(p->in_time), "skipped", static_cast<json_int_t>(p->skipped), "stale",
      static_cast<json_int_t>(p->stale), "errors", static_cast<json_int_t>(errors_ - p->errors0), "closes",
      static_cast<json_int_t>(closes_ - p->closes0), "cpuMicros", static_cast<json_int_t>(cpu_micros() - p->cpu0),
      "connections", static_cast<json_int_t>(p->live.size()), "hist", hist, "late", late));
}

}  // namespace vytal::bench
