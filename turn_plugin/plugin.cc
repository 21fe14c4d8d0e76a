// libvytal_turn.so: the appliance's plugin for vytal-turnserver, behind the C
// ABI of vytal_turn_plugin.h.
//
// - REST credentials are checked against the key ring file (current secret,
//   and the previous one until its overlap ends), so a rotation needs no
//   restart and drops no call.
// - A revoked user (the revocations file: "<user id> <until unix seconds>")
//   is refused at its next request, including refreshes and permissions of
//   a session already allocated. Files are re-read when they change, looked
//   at no more than every 200 ms.
// - Allocation and usage events go to signald as JSON datagrams on a Unix
//   socket, sent without blocking; when the socket is full or absent the
//   event is dropped and counted (the count rides on every datagram).
//
// plugin-config: "keyring=PATH;revoked=PATH;usage=SOCKET_PATH".
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>

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
    if (now - checked_ms_.load(std::memory_order_relaxed) >= 200) {
      std::lock_guard lock(mu_);
      if (now - checked_ms_.load() >= 200) {
        checked_ms_ = now;
        struct stat st {};
        bool exists = ::stat(path_.c_str(), &st) == 0;
        std::string stamp = exists ? std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                                         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec)
                                   : "missing";
        if (stamp != stamp_) {
          stamp_ = stamp;
          std::atomic_store(&value_, exists ? parse_(path_) : std::shared_ptr<const T>());
        }
      }
    }
    return std::atomic_load(&value_);
  }

 private:
  std::string path_;
  Parser parse_ = nullptr;
  std::mutex mu_;
  std::atomic<int64_t> checked_ms_{-1000000};
  std::string stamp_;
  std::shared_ptr<const T> value_;
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

struct State {
  WatchedFile<KeyRing> ring;
  WatchedFile<Revocations> revoked;
  bool has_revocations = false;
  int usage_fd = -1;
  sockaddr_un usage_addr{};
  std::atomic<uint64_t> dropped{0};
};
State* g = nullptr;

// The user part of a REST username "<expiry>:<user id>".
std::string user_of(const char* username) {
  const char* colon = std::strchr(username, ':');
  return colon ? colon + 1 : username;
}

bool revoked(const char* username) {
  if (!g->has_revocations) return false;
  auto list = g->revoked.get();
  if (!list) return false;
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

void send_report(std::string& msg) {
  if (g->usage_fd < 0) return;
  msg += ",\"dropped\":" + std::to_string(g->dropped.load()) + "}";
  if (::sendto(g->usage_fd, msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&g->usage_addr), sizeof g->usage_addr) < 0)
    g->dropped.fetch_add(1, std::memory_order_relaxed);  // never wait on a relay thread
}

int plugin_init(const char* config, char* err, size_t err_len) {
  auto fail = [&](const std::string& why) {
    std::snprintf(err, err_len, "%s", why.c_str());
    return -1;
  };
  std::string keyring, revoked_path, usage;
  std::istringstream in(config ? config : "");
  std::string item;
  while (std::getline(in, item, ';')) {
    size_t eq = item.find('=');
    std::string k = item.substr(0, eq), v = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (k == "keyring")
      keyring = v;
    else if (k == "revoked")
      revoked_path = v;
    else if (k == "usage")
      usage = v;
    else if (!k.empty())
      return fail("unknown plugin-config item '" + k + "'");
  }
  if (keyring.empty()) return fail("plugin-config needs keyring=PATH");
  std::string error;
  if (!read_key_ring(keyring, &error)) return fail("key ring " + error);
  g = new State();
  g->ring.set(keyring, load_ring);
  if (!revoked_path.empty()) {
    g->revoked.set(revoked_path, load_revocations);
    g->has_revocations = true;
  }
  if (!usage.empty()) {
    if (usage.size() >= sizeof g->usage_addr.sun_path) return fail("usage socket path is too long");
    g->usage_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    g->usage_addr.sun_family = AF_UNIX;
    std::memcpy(g->usage_addr.sun_path, usage.c_str(), usage.size() + 1);
  }
  return 0;
}

void plugin_cleanup() {
  if (!g) return;
  if (g->usage_fd >= 0) ::close(g->usage_fd);
  delete g;
  g = nullptr;
}

int plugin_rest_secrets(const char* username, const char*, char secrets[][256], int max) {
  if (revoked(username)) return 0;
  auto ring = g->ring.get();
  if (!ring) return 0;
  int n = 0;
  for (const std::string& s : ring->accepted(now_s())) {
    if (n == max) break;
    std::snprintf(secrets[n++], 256, "%s", s.c_str());
  }
  return n;
}

int plugin_still_allowed(const char* username, const char*) { return revoked(username) ? 0 : 1; }

void plugin_on_allocation(const vytal_turn_allocation_event* e) {
  static const char* const kKinds[] = {"", "created", "refreshed", "deleted"};
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
  send_report(m);
}

void plugin_on_usage(const vytal_turn_usage_event* e) {
  std::string m = "{\"type\":\"usage\",\"session\":" + std::to_string(e->session_id) + ",\"username\":";
  json_string(m, e->username);
  m += ",\"bytesSent\":" + std::to_string(e->bytes_sent) + ",\"bytesReceived\":" + std::to_string(e->bytes_received) +
       ",\"packetsSent\":" + std::to_string(e->packets_sent) +
       ",\"packetsReceived\":" + std::to_string(e->packets_received) + ",\"final\":" + (e->final ? "true" : "false");
  send_report(m);
}

const vytal_turn_plugin kPlugin = {
    VYTAL_TURN_PLUGIN_ABI_VERSION, plugin_init,     plugin_cleanup,       plugin_rest_secrets,
    plugin_on_allocation,          plugin_on_usage, plugin_still_allowed, {},
};

}  // namespace
}  // namespace vytal

extern "C" __attribute__((visibility("default"))) const vytal_turn_plugin* vytal_turn_plugin_entry(
    int host_max_abi_version) {
  return host_max_abi_version >= VYTAL_TURN_PLUGIN_ABI_VERSION ? &vytal::kPlugin : nullptr;
}
