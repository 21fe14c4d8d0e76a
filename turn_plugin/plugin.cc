// libvytal_turn.so: the appliance's plugin for vytal-turnserver, behind the C
// ABI of vytal_turn_plugin.h (version 4; tables for hosts of 1 to 3).
//
// - REST credentials "<expiry>:<user>[@<call id>]" are checked against the
//   key ring file (current secret, and the previous one until its overlap
//   ends), so a rotation needs no restart and drops no call. A username
//   whose expiry is further than max_ttl from now is refused (a credential
//   minted with a huge lifetime is not one signald mints), so is one that
//   has expired or is not in that form.
// - A revoked user (the revocations file: "<user id>[@<call id>] <until unix
//   seconds>") is refused at its next request, including refreshes and
//   permissions of a session already allocated; the host ends its running
//   allocations within a sweep (patch 0009), which looks at the sessions
//   only after the list changed (revocations_version, patch 0014). Files
//   are re-read when they change, looked at no more than every 200 ms.
// - user-quota counts the person: the quota key is the user id, without the
//   call a credential was minted for (patch 0008).
// - Allocation and usage events go to signald as JSON datagrams on a Unix
//   socket, sent without blocking; when the socket is full or absent the
//   event is dropped and counted (the count rides on every datagram), but
//   for a session's last reports (final usage, deleted): those wait in
//   order for the plugin's thread, and a stopping host waits for them
//   (pending_reports, patch 0013). Only
//   sessions that held an allocation are reported: a STUN Binding or a
//   refused attempt is not relay usage.
// - Refusals (the plugin's own and the ones coturn reports, patch 0011) are
//   counted; a "counters" datagram carries the totals at most once a second
//   when they changed. A "started" datagram tells signald a new TURN server
//   process runs (what an earlier one allocated has ended).
//
// plugin-config: "keyring=PATH;revoked=PATH;usage=SOCKET_PATH;max_ttl=SECONDS".
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/key_ring.h"
#include "turn_plugin/vytal_turn_plugin.h"

namespace vytal {
namespace {

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

using Revocations = std::unordered_map<std::string, int64_t>;

// A file parsed into T, re-read when its inode, size or mtime changes.
template <typename T>
class WatchedFile {
 public:
  using Parser = std::shared_ptr<const T> (*)(const std::string& path);
  void set(std::string path, Parser parse) {
    path_ = std::move(path);
    parse_ = parse;
  }
  std::shared_ptr<const T> get() {
    int64_t now = mono_ms();
    if (now - checked_ms_.load() >= 200) {
      std::lock_guard lock(mu_);
      if (now - checked_ms_.load() >= 200) {
        checked_ms_ = now;  // meanwhile the other threads go on with the value read before
        struct stat st {};
        bool exists = ::stat(path_.c_str(), &st) == 0;
        std::string stamp = exists ? std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                                         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec)
                                   : "missing";
        if (stamp != stamp_) {
          stamp_ = stamp;
          std::atomic_store(&value_, exists ? parse_(path_) : std::shared_ptr<const T>());
          version_.fetch_add(1);  // after the store: whoever sees the new version gets the new value
        }
      }
    }
    return std::atomic_load(&value_);
  }
  // Changes each time get() takes a new value from the file.
  uint64_t version() const { return version_.load(); }

 private:
  std::string path_;
  Parser parse_ = nullptr;
  std::mutex mu_;
  std::atomic<int64_t> checked_ms_{-1000000};
  std::string stamp_;
  std::shared_ptr<const T> value_;
  std::atomic<uint64_t> version_{0};
};

std::shared_ptr<const KeyRing> load_ring(const std::string& path) {
  std::string error;
  auto ring = read_key_ring(path, &error);
  if (!ring) {
    std::fprintf(stderr, "vytal plugin: key ring: %s\n", error.c_str());
    return nullptr;  // no secrets: every REST credential is refused until it is fixed
  }
  return std::make_shared<const KeyRing>(std::move(*ring));
}

std::shared_ptr<const Revocations> load_revocations(const std::string& path) {
  auto out = std::make_shared<Revocations>();
  std::ifstream f(path);
  std::string user;
  int64_t until;
  while (f >> user >> until) (*out)[user] = until;
  return out;
}

// What the plugin counts as refused; sent in "counters" datagrams.
enum Refusal {
  kRevoked,         // 401: a new allocation with revoked credentials
  kRevokedSession,  // 403 or ended: a running session whose user was revoked
  kExpired,         // 401: the credential's expiry has passed
  kTtl,             // 401: the expiry is further than max_ttl from now
  kMalformed,       // 401: not "<expiry>:<user>"
  kKeyRing,         // 401: no readable key ring
  kQuota,           // 486 (coturn): user-quota or total-quota reached
  kPeer,            // 403 (coturn): a denied peer address
  kPeerPort,        // 403 (coturn): the server's own address outside the relay ports
  kRefusalKinds,
};
constexpr const char* kRefusalNames[kRefusalKinds] = {"revoked", "revokedSession", "expired", "ttl",     "malformed",
                                                      "keyRing", "quota",          "peer",    "peerPort"};

struct State {
  WatchedFile<KeyRing> ring;
  WatchedFile<Revocations> revoked;
  bool has_revocations = false;
  int64_t max_ttl_s = 86400;
  int usage_fd = -1;
  sockaddr_un usage_addr{};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> refused[kRefusalKinds] = {};
  // Sessions holding an allocation (created, not yet deleted): only their
  // usage is reported.
  std::mutex sessions_mu;
  std::unordered_set<uint64_t> sessions;
  // The reporter thread ("started", then the counters when they change, and
  // the sessions' last reports the socket could not take at once).
  std::mutex stop_mu;  // guards stopping and unsent
  std::condition_variable stop_cv;
  bool stopping = false;
  std::deque<std::string> unsent;  // without the drop count, oldest first
  std::thread reporter;
};
State* g = nullptr;

void count(Refusal r) { g->refused[r].fetch_add(1, std::memory_order_relaxed); }
int refuse(Refusal r) {  // no secrets: coturn answers 401
  count(r);
  return 0;
}

// "<expiry>:<rest>": the expiry, and the rest in *rest; false when not in that form.
bool split_username(const char* username, int64_t* expiry, std::string_view* rest) {
  std::string_view u(username);
  size_t colon = u.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon > 12) return false;
  int64_t e = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (u[i] < '0' || u[i] > '9') return false;
    e = e * 10 + (u[i] - '0');
  }
  *expiry = e;
  *rest = u.substr(colon + 1);
  return !rest->empty();
}

// The user part of a REST username "<expiry>:<user id>[@<call id>]".
std::string user_of(const char* username) {
  const char* colon = std::strchr(username, ':');
  return colon ? colon + 1 : username;
}

bool is_call_id(std::string_view t) {  // a UUID, as signald writes call ids
  if (t.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    char c = t[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// The person behind a username: "<user id>" of "<expiry>:<user id>[@<call id>]"
// (the call suffix is dropped as signald parses it: after the last '@', a UUID).
std::string_view person_of(const char* username) {
  std::string_view u(username);
  size_t colon = u.find(':');
  if (colon != std::string_view::npos) u.remove_prefix(colon + 1);
  size_t at = u.rfind('@');
  if (at != std::string_view::npos && at > 0 && is_call_id(u.substr(at + 1))) u = u.substr(0, at);
  return u;
}

bool revoked(const char* username) {
  if (!g->has_revocations) return false;
  auto list = g->revoked.get();
  if (!list || list->empty()) return false;
  auto it = list->find(user_of(username));
  return it != list->end() && now_s() < it->second;
}

void json_string(std::string& out, const char* s) {
  out += '"';
  for (; s && *s; ++s) {
    unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// Sends msg (an unterminated JSON object) with the drop count. A report that
// cannot be sent is dropped and counted; the reporter thread's own datagrams
// are sent again instead (count_drop false).
bool send_report(std::string& msg, bool count_drop = true) {
  if (g->usage_fd < 0) return false;
  msg += ",\"dropped\":" + std::to_string(g->dropped.load()) + "}";
  if (::sendto(g->usage_fd, msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&g->usage_addr), sizeof g->usage_addr) < 0) {
    if (count_drop) g->dropped.fetch_add(1, std::memory_order_relaxed);  // never wait on a relay thread
    return false;
  }
  return true;
}

// At most this many last reports wait for the socket (a stop of as many
// sessions at once); one more is dropped and counted.
constexpr size_t kMaxUnsent = 20000;

// The socket refuses a datagram for now: its queue is full (signald reads
// it meanwhile).
bool socket_full(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS; }

// Sends what waits, in order, until the socket refuses one for now (full:
// EAGAIN; nobody listens: ECONNREFUSED, ENOENT): 0 when all went, else that
// errno. One refused for good (too long) is dropped and counted, so that it
// does not hold up the rest. With stop_mu held.
int send_unsent() {
  while (!g->unsent.empty()) {
    std::string m = g->unsent.front();
    if (!send_report(m, false)) {
      int e = errno;
      if (socket_full(e) || e == ECONNREFUSED || e == ENOENT) return e;
      g->dropped.fetch_add(1, std::memory_order_relaxed);
    }
    g->unsent.pop_front();
  }
  return 0;
}

// A session's last report (its final usage, its allocation deleted): what the
// socket cannot take now (beyond net.unix.max_dgram_qlen datagrams queued,
// when many sessions end at once, as at a stop) waits for the reporter thread
// to send it, instead of being lost with the session's last bytes. Never
// waits for the socket; takes stop_mu only for a send.
void send_last(std::string msg) {
  if (g->usage_fd < 0) return;
  {
    std::lock_guard lock(g->stop_mu);
    if (g->unsent.empty()) {  // nothing before it waits: at once, if the socket takes it
      std::string m = msg;
      if (send_report(m, false)) return;
    }
    if (g->unsent.size() >= kMaxUnsent) {
      g->dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    g->unsent.push_back(std::move(msg));
  }
  g->stop_cv.notify_all();
}

std::string counters_report() {
  std::string m = "{\"type\":\"counters\",\"refused\":{";
  for (int i = 0; i < kRefusalKinds; ++i) {
    if (i) m += ',';
    m += std::string("\"") + kRefusalNames[i] + "\":" + std::to_string(g->refused[i].load());
  }
  m += '}';
  return m;
}

// Off the relay threads, once a second: "started" until signald has it (a
// new TURN server process: allocations of an earlier one, started before
// startedAt, have ended with it), then the counters whenever they changed
// since the last ones signald got. While sessions' last reports wait: every
// 5 ms when the socket was full (signald reads them meanwhile), every second
// when nobody listens there (signald stopped); at cleanup for up to 2 s
// more, and what still waits then is logged and counted as dropped.
void reporter_loop(int64_t started_at) {
  bool started_sent = false;
  std::string last = counters_report();  // all zero: nothing to say yet
  std::unique_lock lock(g->stop_mu);
  while (!g->stopping) {
    if (!started_sent) {
      std::string m = "{\"type\":\"started\",\"pid\":" + std::to_string(::getpid()) +
                      ",\"startedAt\":" + std::to_string(started_at);
      started_sent = send_report(m, false);
    }
    int refused = send_unsent();
    std::string m = counters_report();
    if (m != last) {
      std::string datagram = m;
      if (send_report(datagram, false)) last = m;
    }
    // A last report put in the queue, or the stop, ends the wait early.
    g->stop_cv.wait_for(lock, std::chrono::milliseconds(socket_full(refused) ? 5 : 1000));
  }
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
       !g->unsent.empty() && std::chrono::steady_clock::now() < until;) {
    send_unsent();
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    lock.lock();
  }
  if (!g->unsent.empty())
    std::fprintf(stderr,
                 "vytal plugin: %zu session reports (final usage, deleted) not sent: signald did not read them\n",
                 g->unsent.size());
  g->dropped.fetch_add(g->unsent.size(), std::memory_order_relaxed);
  g->unsent.clear();
}

int plugin_pending_reports() {
  if (!g) return 0;
  std::lock_guard lock(g->stop_mu);
  return static_cast<int>(g->unsent.size());
}

int plugin_init(const char* config, char* err, size_t err_len) {
  auto fail = [&](const std::string& why) {
    std::snprintf(err, err_len, "%s", why.c_str());
    return -1;
  };
  std::string keyring, revoked_path, usage;
  int64_t max_ttl = 86400;
  std::istringstream in(config ? config : "");
  std::string item;
  while (std::getline(in, item, ';')) {
    size_t eq = item.find('=');
    std::string k = item.substr(0, eq), v = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (k == "keyring") {
      keyring = v;
    } else if (k == "revoked") {
      revoked_path = v;
    } else if (k == "usage") {
      usage = v;
    } else if (k == "max_ttl") {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 60 || n > 7 * 86400) return fail("max_ttl must be seconds, 60 to 604800");
      max_ttl = n;
    } else if (!k.empty()) {
      return fail("unknown plugin-config item '" + k + "'");
    }
  }
  if (keyring.empty()) return fail("plugin-config needs keyring=PATH");
  std::string error;
  if (!read_key_ring(keyring, &error)) return fail("key ring " + error);
  if (usage.size() >= sizeof(sockaddr_un::sun_path)) return fail("usage socket path is too long");
  g = new State();
  g->max_ttl_s = max_ttl;
  // Both read now, before any relay thread asks: a check that came in while
  // the first read was under way would find no key ring (401 for every
  // credential) and no revocations.
  g->ring.set(keyring, load_ring);
  g->ring.get();
  if (!revoked_path.empty()) {
    g->revoked.set(revoked_path, load_revocations);
    g->revoked.get();
    g->has_revocations = true;
  }
  if (!usage.empty()) {
    g->usage_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    g->usage_addr.sun_family = AF_UNIX;
    std::memcpy(g->usage_addr.sun_path, usage.c_str(), usage.size() + 1);
    g->reporter = std::thread(reporter_loop, now_s());
  }
  return 0;
}

void plugin_cleanup() {
  if (!g) return;
  if (g->reporter.joinable()) {
    {
      std::lock_guard lock(g->stop_mu);
      g->stopping = true;
    }
    g->stop_cv.notify_all();
    g->reporter.join();
  }
  if (g->usage_fd >= 0) ::close(g->usage_fd);
  delete g;
  g = nullptr;
}

int plugin_rest_secrets(const char* username, const char*, char secrets[][256], int max) {
  int64_t expiry = 0;
  std::string_view rest;
  if (!split_username(username, &expiry, &rest)) return refuse(kMalformed);
  int64_t now = now_s();
  if (expiry <= now) return refuse(kExpired);
  if (expiry - now > g->max_ttl_s) return refuse(kTtl);
  if (revoked(username)) return refuse(kRevoked);
  auto ring = g->ring.get();
  if (!ring) return refuse(kKeyRing);
  int n = 0;
  for (const std::string& s : ring->accepted(now)) {
    if (n == max) break;
    std::snprintf(secrets[n++], 256, "%s", s.c_str());
  }
  return n;
}

int plugin_still_allowed(const char* username, const char*) {
  if (!revoked(username)) return 1;
  count(kRevokedSession);
  return 0;
}

uint64_t plugin_revocations_version() {
  if (!g || !g->has_revocations) return 0;
  g->revoked.get();  // re-reads the file when it changed
  return g->revoked.version();
}

int plugin_quota_key(const char* username, const char*, char* key, size_t key_len) {
  std::string_view person = person_of(username);
  if (person.empty() || person.size() >= key_len) return -1;  // coturn's own name
  std::memcpy(key, person.data(), person.size());
  key[person.size()] = 0;
  return 0;
}

void plugin_on_refusal(const vytal_turn_refusal_event* e) {
  switch (e->kind) {
    case VYTAL_TURN_REFUSED_QUOTA: count(kQuota); break;
    case VYTAL_TURN_REFUSED_PEER: count(kPeer); break;
    case VYTAL_TURN_REFUSED_PEER_PORT: count(kPeerPort); break;
    default: break;
  }
}

// Tracks the sessions holding an allocation; false for an event of any other.
bool track_session(uint64_t session, int kind) {
  std::lock_guard lock(g->sessions_mu);
  if (kind == VYTAL_TURN_ALLOCATION_CREATED) return g->sessions.insert(session), true;
  if (kind == VYTAL_TURN_ALLOCATION_DELETED) return g->sessions.erase(session) > 0;
  return g->sessions.count(session) > 0;
}

void plugin_on_allocation(const vytal_turn_allocation_event* e) {
  static const char* const kKinds[] = {"", "created", "refreshed", "deleted"};
  if (!track_session(e->session_id, e->kind)) return;
  std::string m = "{\"type\":\"allocation\",\"event\":\"";
  m += (e->kind >= 1 && e->kind <= 3) ? kKinds[e->kind] : "unknown";
  m += "\",\"session\":" + std::to_string(e->session_id) + ",\"username\":";
  json_string(m, e->username);
  m += ",\"client\":";
  json_string(m, e->client_address);
  m += ",\"relay\":";
  json_string(m, e->relay_address);
  m += ",\"transport\":";
  json_string(m, e->transport);
  m += ",\"lifetime\":" + std::to_string(e->lifetime_s);
  if (e->kind == VYTAL_TURN_ALLOCATION_DELETED)
    send_last(std::move(m));
  else
    send_report(m);
}

void plugin_on_usage(const vytal_turn_usage_event* e) {
  if (!track_session(e->session_id, 0)) return;  // no allocation: a STUN Binding, a refused attempt
  std::string m = "{\"type\":\"usage\",\"session\":" + std::to_string(e->session_id) + ",\"username\":";
  json_string(m, e->username);
  m += ",\"bytesSent\":" + std::to_string(e->bytes_sent) + ",\"bytesReceived\":" + std::to_string(e->bytes_received) +
       ",\"packetsSent\":" + std::to_string(e->packets_sent) +
       ",\"packetsReceived\":" + std::to_string(e->packets_received) +
       ",\"totalBytesSent\":" + std::to_string(e->total_bytes_sent) +
       ",\"totalBytesReceived\":" + std::to_string(e->total_bytes_received) +
       ",\"totalPacketsSent\":" + std::to_string(e->total_packets_sent) +
       ",\"totalPacketsReceived\":" + std::to_string(e->total_packets_received) +
       ",\"final\":" + (e->final ? "true" : "false");
  if (e->final)
    send_last(std::move(m));
  else
    send_report(m);
}

constexpr vytal_turn_plugin kPlugin = {
    VYTAL_TURN_PLUGIN_ABI_VERSION,
    plugin_init,
    plugin_cleanup,
    plugin_rest_secrets,
    plugin_on_allocation,
    plugin_on_usage,
    plugin_still_allowed,
    plugin_quota_key,
    plugin_on_refusal,
    plugin_pending_reports,
    plugin_revocations_version,
    {},
};
// The table as a host of an earlier ABI version reads it: without what came later.
constexpr vytal_turn_plugin for_host(vytal_turn_plugin table, int version) {
  table.abi_version = version;
  if (version < 4) table.revocations_version = nullptr;  // the host sweeps every round
  if (version < 3) table.pending_reports = nullptr;      // a stop does not wait for them
  if (version < 2) table.quota_key = nullptr, table.on_refusal = nullptr;
  return table;
}
const vytal_turn_plugin kPluginV3 = for_host(kPlugin, 3);
const vytal_turn_plugin kPluginV2 = for_host(kPlugin, 2);
const vytal_turn_plugin kPluginV1 = for_host(kPlugin, 1);

}  // namespace
}  // namespace vytal

extern "C" __attribute__((visibility("default"))) const vytal_turn_plugin* vytal_turn_plugin_entry(
    int host_max_abi_version) {
  if (host_max_abi_version >= VYTAL_TURN_PLUGIN_ABI_VERSION) return &vytal::kPlugin;
  if (host_max_abi_version == 3) return &vytal::kPluginV3;
  if (host_max_abi_version == 2) return &vytal::kPluginV2;
  return host_max_abi_version == 1 ? &vytal::kPluginV1 : nullptr;
}
