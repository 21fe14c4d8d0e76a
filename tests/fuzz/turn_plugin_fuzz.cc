// The TURN plugin's inputs, through its exported C ABI (vytal_turn_plugin.h):
// the key ring file, the revocations file, the usernames coturn asks about,
// and the strings of allocation and usage events. Each input is one plugin
// life: files written, init, the calls, cleanup.
//
// Input: NUL-separated parts: the key ring file's text, the revocations
// file's text, then usernames; the event strings (username, realm, client,
// relay, transport) are taken in turn from the usernames.
//
// Invariants, beyond "no sanitizer finding":
// - init succeeds exactly when the key ring parses (parse_key_ring); when it
//   fails, its reason is a NUL-terminated string within the buffer;
// - rest_secrets returns 0..max NUL-terminated secrets, the ring's current
//   one first; it refuses (0) exactly the users still_allowed refuses;
// - a user revoked until far in the future by the file's first line is
//   refused under any "<expiry>:" prefix, unless the fuzzed rest of the file
//   names that user again;
// - every usage and allocation report is one JSON object (jansson reads it)
//   whose username is the one given, when the strings are UTF-8 (the ABI's
//   promise).
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/key_ring.h"
#include "http/ws_codec.h"
#include "turn_plugin/vytal_turn_plugin.h"

namespace vytal {
namespace {

constexpr char kRevokedUser[] = "fuzz-revoked@0190a000-0000-7000-8000-000000000000";

struct Paths {
  std::string dir, keyring, revoked, usage;
};
Paths* paths = nullptr;
int usage_fd = -1;

void set_up() {
  // In memory when there is a tmpfs: both files are written for every input.
  std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string tmpl_s = dir + "/vytal-turn-plugin-fuzz-XXXXXX";
  char* tmpl = tmpl_s.data();
  if (!::mkdtemp(tmpl)) std::abort();
  paths = new Paths{tmpl, std::string(tmpl) + "/keyring", std::string(tmpl) + "/revoked", std::string(tmpl) + "/usage"};
  std::atexit([] { std::filesystem::remove_all(paths->dir); });
  usage_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, paths->usage.c_str(), sizeof addr.sun_path - 1);
  if (usage_fd < 0 || ::bind(usage_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  int big = 1 << 20;
  ::setsockopt(usage_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "turn_plugin_fuzz: %s\n", why.c_str());
  std::abort();
}

void write_file(const std::string& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (size_t at = 0;;) {
    size_t e = s.find(sep, at);
    out.emplace_back(s.substr(at, e == std::string_view::npos ? std::string_view::npos : e - at));
    if (e == std::string_view::npos) return out;
    at = e + 1;
  }
}

bool utf8(const std::string& s) {
  Utf8State st;
  return utf8_feed(st, s) && st.need == 0;
}

// Reads every report waiting on the usage socket; checks each.
void drain_reports(const std::vector<std::string>& expected_users, bool check_users) {
  char buf[65536];
  size_t i = 0;
  for (ssize_t n; (n = ::recv(usage_fd, buf, sizeof buf, 0)) >= 0;) {
    std::string_view text(buf, static_cast<size_t>(n));
    std::string error;
    JsonPtr m = json_parse(text, &error);
    if (!check_users) continue;
    if (!json_is_object(m.get())) fail("a report is not a JSON object (" + error + "): " + std::string(text));
    // The plugin's own reports ("started" at init, "counters" of refusals)
    // name no user.
    auto type = json_string_field(m.get(), "type");
    if (type && (*type == "started" || *type == "counters")) continue;
    auto user = json_string_field(m.get(), "username");
    if (i >= expected_users.size() || !user || *user != expected_users[i])
      fail("a report's username is not the one given: " + std::string(text));
    if (!json_is_integer(json_object_get(m.get(), "dropped"))) fail("a report without its dropped count");
    ++i;
  }
  if (check_users && i != expected_users.size())
    fail(std::to_string(expected_users.size()) + " reports expected, " + std::to_string(i) + " received");
}

// "<expiry>:<user>" as the plugin's documentation gives it: 1 to 12 digits,
// a non-empty user, and an expiry ahead by less than a day (with a margin of
// seconds either side, for the clock moving during the call).
bool fresh_credential(std::string_view name) {
  size_t colon = name.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon > 12 || colon + 1 == name.size()) return false;
  int64_t expiry = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    expiry = expiry * 10 + (name[i] - '0');
  }
  int64_t now = std::time(nullptr);
  return expiry > now + 2 && expiry < now + 86400 - 2;
}

}  // namespace
}  // namespace vytal

using namespace vytal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!paths) set_up();
  std::vector<std::string> parts = split(std::string_view(reinterpret_cast<const char*>(data), size), '\0');
  std::string ring_text = parts[0];
  std::string revoked_text = std::string(kRevokedUser) + " 99999999999\n" + (parts.size() > 1 ? parts[1] : "");
  std::vector<std::string> names(parts.begin() + std::min<size_t>(parts.size(), 2), parts.end());
  write_file(paths->keyring, ring_text);
  write_file(paths->revoked, revoked_text);

  const vytal_turn_plugin* p = vytal_turn_plugin_entry(VYTAL_TURN_PLUGIN_ABI_VERSION);
  if (!p || p->abi_version != VYTAL_TURN_PLUGIN_ABI_VERSION || !p->init || !p->cleanup || !p->rest_secrets)
    fail("the entry point's table");
  std::string config = "keyring=" + paths->keyring + ";revoked=" + paths->revoked + ";usage=" + paths->usage;
  char err[128];
  std::memset(err, 'x', sizeof err);
  auto ring = parse_key_ring(ring_text, nullptr);
  int rc = p->init(config.c_str(), err, sizeof err);
  if ((rc == 0) != ring.has_value()) fail("init and parse_key_ring disagree on the key ring");
  if (rc != 0) {
    if (std::memchr(err, '\0', sizeof err) == nullptr || err[0] == '\0') fail("init failed without a reason");
    return 0;
  }

  bool revoked_again = parts.size() > 1 && parts[1].find("fuzz-revoked") != std::string::npos;
  std::vector<std::string> probes = names;
  probes.push_back(std::string("1900000000:") + kRevokedUser);
  probes.push_back(std::to_string(std::time(nullptr) + 3600) + ":" + kRevokedUser);
  for (const std::string& name : probes) {
    char secrets[VYTAL_TURN_PLUGIN_MAX_SECRETS][256];
    std::memset(secrets, 'x', sizeof secrets);
    int n = p->rest_secrets(name.c_str(), "vytal", secrets, VYTAL_TURN_PLUGIN_MAX_SECRETS);
    if (n < 0 || n > VYTAL_TURN_PLUGIN_MAX_SECRETS) fail("rest_secrets returned " + std::to_string(n));
    for (int i = 0; i < n; ++i)
      if (std::memchr(secrets[i], '\0', 256) == nullptr) fail("a secret without its NUL");
    if (n > 0 && std::string(secrets[0]) != ring->current) fail("the first secret is not the ring's current one");
    int allowed = p->still_allowed ? p->still_allowed(name.c_str(), "vytal") : 1;
    // A new credential is refused for more than a running one: rest_secrets
    // also refuses a malformed name, an expiry past or further than max_ttl
    // (a day here); still_allowed, asked about running allocations, only
    // what is revoked.
    if (n > 0 && allowed != 1) fail("rest_secrets gave secrets to a user still_allowed refuses: '" + name + "'");
    if (n == 0 && allowed == 1 && fresh_credential(name))
      fail("a fresh, well-formed, unrevoked credential got no secret: '" + name + "'");
    std::string_view user(name);
    if (size_t colon = user.find(':'); colon != std::string_view::npos) user.remove_prefix(colon + 1);
    if (user == kRevokedUser && !revoked_again && allowed) fail("a revoked user is allowed: '" + name + "'");
  }

  bool all_utf8 = true;
  for (const std::string& s : names) all_utf8 = all_utf8 && utf8(s);
  auto field = [&](size_t i) { return names.empty() ? "" : names[i % names.size()].c_str(); };
  std::vector<std::string> reported;
  // The plugin reports only the events of sessions holding an allocation
  // (created starts one, deleted ends it): a STUN Binding or a refused
  // attempt has usage but no allocation. The same rule, kept here.
  std::set<uint64_t> holding;
  for (size_t i = 0; i < std::max<size_t>(names.size(), 1) && i < 8; ++i) {
    uint64_t session = ((i % 3) * 0x9E3779B97F4A7C15ull) >> 1;  // within int64, as coturn's are; some repeat
    if (p->on_allocation) {
      vytal_turn_allocation_event e{};
      e.kind = static_cast<int>(i % 5);
      e.session_id = session;
      e.username = field(i);
      e.realm = field(i + 1);
      e.client_address = field(i + 2);
      e.relay_address = field(i + 3);
      e.transport = field(i + 4);
      e.lifetime_s = static_cast<uint32_t>(i * 600);
      p->on_allocation(&e);
      bool known = e.kind == VYTAL_TURN_ALLOCATION_CREATED   ? (holding.insert(session), true)
                   : e.kind == VYTAL_TURN_ALLOCATION_DELETED ? holding.erase(session) > 0
                                                             : holding.count(session) > 0;
      if (known) reported.emplace_back(e.username);
    }
    if (p->on_usage) {
      vytal_turn_usage_event u{};
      u.session_id = i % 2 ? session : session + 1;
      u.username = field(i);
      u.realm = field(i + 1);
      u.bytes_sent = (uint64_t{1} << 63) - 1 - i;  // signald reads counts as int64 (jansson)
      u.final = static_cast<int>(i & 1);
      p->on_usage(&u);
      if (holding.count(u.session_id)) reported.emplace_back(u.username);
    }
  }
  drain_reports(reported, all_utf8);
  p->cleanup();
  return 0;
}
