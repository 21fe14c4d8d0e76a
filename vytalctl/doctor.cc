#include "vytalctl/doctor.h"

#include <arpa/inet.h>
#include <grp.h>
#include <ifaddrs.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "appliance_status/appliance_status.h"
#include "appliance_status/http_client.h"
#include "appliance_status/system_probes.h"
#include "common/files.h"
#include "common/key_ring.h"
#include "common/turn_credentials.h"
#include "syncd/pg_session.h"
#include "syncd/syncd_config.h"
#include "turn_policy/turn_server_config.h"
#include "vytalctl/turn_probe.h"

namespace vytal {
namespace {

constexpr int kHttpsPort = 443;  // nginx (packaging/nginx): HTTPS and TURN over TLS by SNI
constexpr const char* kSecretKeys[] = {"JWT_SECRET", "DATABASE_PASSWORD", "TURN_SHARED_SECRET", "WEBRTC_TURN_PASSWORD"};

DoctorCheck ok(std::string id, std::string detail) { return {std::move(id), Verdict::ok, std::move(detail), ""}; }
DoctorCheck warn(std::string id, std::string detail, std::string fix) {
  return {std::move(id), Verdict::warn, std::move(detail), std::move(fix)};
}
DoctorCheck fail(std::string id, std::string detail, std::string fix) {
  return {std::move(id), Verdict::fail, std::move(detail), std::move(fix)};
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string host_port(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

const char* env_lookup(const char* key) { return std::getenv(key); }

// ---- configuration ---------------------------------------------------------

// key = value lines of a coturn configuration; bare options map to "".
std::multimap<std::string, std::string> parse_turn_config(const std::string& text) {
  std::multimap<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    out.emplace(line.substr(0, eq), eq == std::string::npos ? "" : line.substr(eq + 1));
  }
  return out;
}

std::string first(const std::multimap<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

// One field of plugin-config ("keyring=...;revoked=...;max_ttl=...").
std::string plugin_field(const std::multimap<std::string, std::string>& m, const std::string& field) {
  std::string pc = first(m, "plugin-config");
  for (size_t start = 0; start <= pc.size();) {
    size_t end = pc.find(';', start);
    if (end == std::string::npos) end = pc.size();
    std::string item = pc.substr(start, end - start);
    if (item.rfind(field + "=", 0) == 0) return item.substr(field.size() + 1);
    start = end + 1;
  }
  return {};
}

// The keys whose lines differ between two generated configurations.
std::vector<std::string> differing_keys(const std::multimap<std::string, std::string>& a,
                                        const std::multimap<std::string, std::string>& b) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  std::vector<std::string> out;
  for (const std::string& k : keys) {
    auto ra = a.equal_range(k), rb = b.equal_range(k);
    std::multiset<std::string> va, vb;
    for (auto it = ra.first; it != ra.second; ++it) va.insert(it->second);
    for (auto it = rb.first; it != rb.second; ++it) vb.insert(it->second);
    if (va != vb) out.push_back(k);
  }
  return out;
}

DoctorCheck check_turn_config(const Config& config, const DoctorOptions& o) {
  const char* id = "config-turn";
  std::string why;
  auto text = read_file(o.turn_config_path, &why);
  if (!text)
    return fail(id,
                "vytal-turnserver's generated configuration " +
                    (errno == ENOENT ? o.turn_config_path + " does not exist" : "cannot be read: " + why),
                "systemctl restart vytal-turnserver (its ExecStartPre writes it with vytalctl turn-config)");
  auto running = parse_turn_config(*text);
  std::string expected_text;
  try {
    expected_text = turn_server_config(config);
  } catch (const ConfigError& e) {
    return fail(id, std::string("the TURN settings are wrong: ") + e.what(), "correct that key in site.conf");
  }
  auto expected = parse_turn_config(expected_text);
  // The files vytal-turnserver reads (all but secrets.conf, hidden from its
  // unit): a TURN key set only in secrets.conf is one signald sees and the
  // TURN server never will.
  std::vector<std::string> turn_paths;
  for (const std::string& p : o.config_paths)
    if (base_name(p) != "secrets.conf") turn_paths.push_back(p);
  std::vector<std::string> hidden;
  if (turn_paths.size() != o.config_paths.size()) {
    try {
      auto turn_view = parse_turn_config(turn_server_config(Config::load(turn_paths, env_lookup)));
      hidden = differing_keys(turn_view, expected);
    } catch (const ConfigError& e) {
      return fail(id,
                  std::string("vytal-turnserver cannot generate its configuration without secrets.conf: ") + e.what(),
                  "set the TURN keys in appliance.conf or site.conf, not in secrets.conf");
    }
  }
  std::string hidden_fix = "move the TURN keys out of secrets.conf (vytal-turnserver cannot read it) into site.conf";
  std::string restart_fix = "systemctl restart vytal-turnserver (it regenerates its configuration at start)";
  std::string running_ring = plugin_field(running, "keyring"), ring = config.str("VYTAL_TURN_KEYRING_FILE");
  if (running_ring != ring)
    return fail(id,
                "vytal-turnserver checks credentials with the key ring " + running_ring +
                    " but signald mints them with " + ring + ": every TURN credential is refused",
                hidden.empty() ? restart_fix : hidden_fix);
  for (const char* key : {"listening-port", "tls-listening-port"})
    if (first(running, key) != first(expected, key))
      return fail(id,
                  std::string("vytal-turnserver's ") + key + " is " + first(running, key) +
                      " but the configuration says " + first(expected, key) +
                      ": browsers and the doctor are sent to the wrong port",
                  hidden.empty() ? restart_fix : hidden_fix);
  int64_t ttl = config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400);
  long max_ttl = std::strtol(plugin_field(running, "max_ttl").c_str(), nullptr, 10);
  if (max_ttl > 0 && max_ttl < ttl)
    return fail(id,
                "signald mints TURN credentials for " + std::to_string(ttl) +
                    " s but vytal-turnserver refuses any over " + std::to_string(max_ttl) + " s",
                hidden.empty() ? restart_fix : hidden_fix);
  if (plugin_field(running, "revoked") != plugin_field(expected, "revoked"))
    return fail(id,
                "vytal-turnserver reads revocations from '" + plugin_field(running, "revoked") +
                    "' but signald writes '" + config.str("VYTAL_TURN_REVOKED_FILE") +
                    "': a participant who left keeps relaying",
                hidden.empty() ? restart_fix : hidden_fix);
  if (!hidden.empty())
    return fail(id, "secrets.conf changes vytal-turnserver's settings that it cannot read: " + join(hidden),
                hidden_fix);
  auto stale = differing_keys(running, expected);
  if (!stale.empty())
    return warn(id, "vytal-turnserver runs with an older configuration (differs in " + join(stale) + ")", restart_fix);
  return ok(id, o.turn_config_path + " agrees with the configuration (key ring " + ring + ", realm " +
                    first(running, "realm") + ", ports " + first(running, "listening-port") + "/" +
                    first(running, "tls-listening-port") + ")");
}

DoctorCheck check_secrets(const Config& config, const DoctorOptions& o) {
  const char* id = "config-secrets";
  std::vector<std::string> misplaced;
  for (const std::string& path : o.config_paths) {
    if (base_name(path) == "secrets.conf") continue;
    try {
      Config one = Config::load({path}, [](const char*) -> const char* { return nullptr; });
      for (const char* key : kSecretKeys)
        if (one.is_set(key)) misplaced.push_back(std::string(key) + " in " + path);
    } catch (const ConfigError& e) {
      return fail(id, e.what(), "correct " + path);
    }
  }
  if (!misplaced.empty())
    return warn(id, "secrets where vytal-turnserver can read them: " + join(misplaced),
                "move them to /etc/vytalwatch/secrets.conf (root:vytalwatch 0640)");
  if (config.is_set("VYTAL_TURN_KEYRING_FILE") && config.is_set("TURN_SHARED_SECRET"))
    return warn(id, "TURN_SHARED_SECRET is set but ignored: credentials are minted with the key ring",
                "remove TURN_SHARED_SECRET");
  if (config.str("JWT_ALGORITHM") == "HS256" && !config.is_set("JWT_SECRET"))
    return fail(id, "JWT_ALGORITHM is HS256 but JWT_SECRET is not set: signald refuses to start",
                "set the platform's JWT_SECRET in secrets.conf");
  if (o.config_paths.empty()) return ok(id, "no --config files given: the secrets come from the environment");
  return ok(id, "secrets only in secrets.conf (or the environment)");
}

std::set<std::string> interface_addresses();
std::string canonical_ip(const std::string& s);

struct IceUrl {
  std::string scheme, host;
  int port = 0;
};

std::optional<IceUrl> parse_ice_url(const std::string& url) {
  IceUrl u;
  size_t colon = url.find(':');
  if (colon == std::string::npos) return std::nullopt;
  u.scheme = url.substr(0, colon);
  std::string rest = url.substr(colon + 1);
  rest = rest.substr(0, rest.find('?'));
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else {
    size_t c = rest.rfind(':');
    u.host = rest.substr(0, c);
    if (c != std::string::npos) port = rest.substr(c + 1);
  }
  u.port = port.empty() ? (u.scheme == "turns" || u.scheme == "stuns" ? 5349 : 3478) : std::atoi(port.c_str());
  if (u.host.empty() || u.port <= 0) return std::nullopt;
  return u;
}

bool is_ip_text(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

DoctorCheck check_ice_urls(const Config& config) {
  const char* id = "config-ice-urls";
  auto urls = config.list("WEBRTC_TURN_SERVERS");
  if (urls.empty())
    return warn(
        id, "WEBRTC_TURN_SERVERS is empty: browsers get no TURN server, so clients behind strict NATs get no media",
        "set WEBRTC_TURN_SERVERS in site.conf (turn:ADDRESS:3478?transport=udp, turns:TURN-NAME:443?transport=tcp)");
  int64_t port = config.integer("VYTAL_TURN_PORT", 1, 65535),
          tls_port = config.integer("VYTAL_TURN_TLS_PORT", 1, 65535);
  // Where clients may reach the TURN server: its listening addresses (every
  // address of this machine when it listens on the wildcard) or the public
  // address mapped to it.
  std::set<std::string> addresses;
  for (const std::string& ip : config.list("VYTAL_TURN_LISTEN_IPS")) {
    if (ip == "0.0.0.0" || ip == "::")
      for (const std::string& local : interface_addresses()) addresses.insert(local);
    else
      addresses.insert(canonical_ip(ip));
  }
  if (config.is_set("VYTAL_TURN_EXTERNAL_IP")) addresses.insert(canonical_ip(config.str("VYTAL_TURN_EXTERNAL_IP")));
  for (const std::string& url : urls) {
    auto u = parse_ice_url(url);
    if (!u || (u->scheme != "turn" && u->scheme != "turns"))
      return fail(id, "WEBRTC_TURN_SERVERS holds '" + url + "', not a turn: or turns: URL", "correct it in site.conf");
    if (u->scheme == "turn" && u->port != port)
      return fail(id,
                  url + " names port " + std::to_string(u->port) + " but vytal-turnserver listens on " +
                      std::to_string(port) + " (VYTAL_TURN_PORT)",
                  "make the URL's port and VYTAL_TURN_PORT agree (site.conf)");
    if (u->scheme == "turns" && u->port != tls_port && u->port != kHttpsPort)
      return fail(id,
                  url + " names port " + std::to_string(u->port) + ": TURN over TLS is on " + std::to_string(tls_port) +
                      " and through nginx on 443",
                  "use turns:TURN-NAME:443?transport=tcp (site.conf)");
    if (u->scheme == "turns" && !config.is_set("VYTAL_TURN_CERT_FILE"))
      return fail(id, url + " offers TURN over TLS but VYTAL_TURN_CERT_FILE is empty: there is no TLS listener",
                  "set VYTAL_TURN_CERT_FILE and VYTAL_TURN_KEY_FILE (packaging/EDGE.md)");
    if (is_ip_text(u->host) && !addresses.count(canonical_ip(u->host)))
      return warn(id,
                  url + " names " + u->host + ", where vytal-turnserver does not listen (nor VYTAL_TURN_EXTERNAL_IP)",
                  "use this machine's address, or the public one in VYTAL_TURN_EXTERNAL_IP, in the URL (site.conf)");
  }
  return ok(id, std::to_string(urls.size()) + " TURN URL(s) agree with the TURN server's ports and addresses");
}

// ---- ports -----------------------------------------------------------------

DoctorCheck check_http(const char* id, const char* service, const HttpTarget& target, const std::string& unit) {
  auto r = http_request(target, "GET", "/healthz", "", 1000);
  if (r && r->status == 200) return ok(id, std::string(service) + " answers /healthz on " + target.base_url);
  return fail(id,
              std::string(service) + " does not answer on " + target.base_url +
                  (r ? " (/healthz: " + std::to_string(r->status) + ")" : ": " + r.error().message),
              "systemctl status " + unit + "; journalctl -u " + unit + " -n 50");
}

DoctorCheck check_tcp(const char* id, const std::string& what, const std::string& host, int port,
                      const std::string& fix) {
  if (tcp_port_open(host, port, 500)) return ok(id, what + " accepts TCP on " + host_port(host, port));
  return fail(id, "nothing accepts TCP on " + host_port(host, port) + " (" + what + ")", fix);
}

// ---- relay address ---------------------------------------------------------

std::set<std::string> interface_addresses() {
  std::set<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    char text[INET6_ADDRSTRLEN] = "";
    if (i->ifa_addr->sa_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    else if (i->ifa_addr->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, text, sizeof text);
    if (*text) out.insert(text);
  }
  freeifaddrs(list);
  return out;
}

// The canonical text of an address (so "2001:DB8::7" matches "2001:db8::7").
std::string canonical_ip(const std::string& s) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN] = "";
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) inet_ntop(AF_INET, buf, text, sizeof text);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) inet_ntop(AF_INET6, buf, text, sizeof text);
  return *text ? text : s;
}

// Loopback, or reachable only inside a site (RFC 1918, shared, link-local, unique local).
const char* address_scope(const std::string& ip) {
  unsigned char b[16];
  if (inet_pton(AF_INET, ip.c_str(), b) == 1) {
    if (b[0] == 127) return "loopback";
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168) ||
        (b[0] == 100 && (b[1] & 0xC0) == 64) || (b[0] == 169 && b[1] == 254))
      return "private";
    return "";
  }
  if (inet_pton(AF_INET6, ip.c_str(), b) == 1) {
    static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(b, kLoopback, 16) == 0) return "loopback";
    if ((b[0] & 0xFE) == 0xFC || (b[0] == 0xFE && (b[1] & 0xC0) == 0x80)) return "private";
  }
  return "";
}

DoctorCheck check_relay_address(const Config& config) {
  const char* id = "relay-address";
  auto relays = config.list("VYTAL_TURN_RELAY_IPS");
  if (relays.empty())
    return fail(id, "VYTAL_TURN_RELAY_IPS is empty: vytal-turnserver does not start",
                "set VYTAL_TURN_RELAY_IPS to this machine's address in site.conf");
  auto local = interface_addresses();
  std::string external = config.str("VYTAL_TURN_EXTERNAL_IP");
  for (const std::string& ip : relays) {
    if (!local.count(canonical_ip(ip)))
      return fail(id, "the relay address " + ip + " is on no interface of this machine: vytal-turnserver cannot relay",
                  "set VYTAL_TURN_RELAY_IPS to an address of this machine (ip -br addr); behind NAT, put the public "
                  "address in VYTAL_TURN_EXTERNAL_IP");
    std::string scope = address_scope(ip);
    if (scope == "loopback")
      return warn(id, "the relay address " + ip + " is loopback: only this machine can use the relay",
                  "set VYTAL_TURN_RELAY_IPS to the address clients reach (site.conf)");
    if (scope == "private" && external.empty())
      return warn(id,
                  "the relay address " + ip +
                      " is private and no public address is mapped: clients outside the "
                      "hospital cannot reach the relay",
                  "behind NAT, set VYTAL_TURN_EXTERNAL_IP to the public address that forwards to " + ip);
  }
  return ok(id, "relay address(es) " + join(relays) + " on this machine" +
                    (external.empty() ? std::string() : ", mapped to the public " + external));
}

// ---- certificates ----------------------------------------------------------

DoctorCheck check_certificate(const char* id, const std::string& label, const std::string& path,
                              const std::vector<std::string>& names, const std::string& key_path,
                              const std::string& names_key, int64_t now_s) {
  std::string renew = "renew it: certbot renew (the deploy hook installs it)";
  if (path.empty())
    return warn(
        id, label + ": no certificate configured",
        "set " +
            std::string(label.find("TURN") != std::string::npos ? "VYTAL_TURN_CERT_FILE" : "VYTAL_HTTPS_CERT_FILE") +
            " (packaging/EDGE.md)");
  CertificateStatus c = certificate_status(label, path, now_s);
  if (!c.info.error.empty())
    return fail(id, label + " certificate " + path + " " + c.info.error,
                "install the certificate (packaging/EDGE.md) or correct the configured path");
  if (c.info.not_after_s <= now_s)
    return fail(id, label + " certificate " + path + " expired " + std::to_string(-c.days_left) + " day(s) ago", renew);
  std::vector<std::string> missing;
  for (const std::string& n : names)
    if (!certificate_covers(path, n)) missing.push_back(n);
  if (!missing.empty())
    return fail(id, label + " certificate " + path + " is not valid for " + join(missing) + " (" + c.info.subject + ")",
                "get a certificate covering every name: certbot certonly -d NAME ... (packaging/EDGE.md)");
  std::string error;
  if (!key_path.empty() && !certificate_matches_key(path, key_path, &error))
    return fail(id, label + ": " + error, "install the certificate and its key together (the deploy hook does)");
  if (c.days_left < 14)
    return warn(id, label + " certificate expires in " + std::to_string(c.days_left) + " day(s)", renew);
  if (c.self_signed)
    return warn(id,
                label + " certificate is self-signed: browsers refuse it" +
                    (label.find("TURN") != std::string::npos
                         ? std::string(" for TURN over TLS, so clinics that allow only port 443 get no media")
                         : std::string()),
                "get a certificate from a CA for the appliance's names (certbot, packaging/EDGE.md)");
  if (names.empty())
    return warn(
        id, label + " certificate expires in " + std::to_string(c.days_left) + " days; no names to check it against",
        "set " + names_key + " to the names browsers use");
  return ok(id,
            label + " certificate valid for " + join(names) + ", expires in " + std::to_string(c.days_left) + " days");
}

// ---- files -----------------------------------------------------------------

struct Account {
  bool found = false;
  uid_t uid = 0;
  std::string group;  // its primary group's name
  std::vector<gid_t> groups;
};

Account account(const std::string& user) {
  Account a;
  passwd* pw = getpwnam(user.c_str());
  if (!pw) return a;
  a.found = true;
  a.uid = pw->pw_uid;
  group* g = getgrgid(pw->pw_gid);
  a.group = g ? g->gr_name : std::to_string(pw->pw_gid);
  int n = 64;
  a.groups.resize(static_cast<size_t>(n));
  if (getgrouplist(user.c_str(), pw->pw_gid, a.groups.data(), &n) < 0) {
    a.groups.resize(static_cast<size_t>(n));
    getgrouplist(user.c_str(), pw->pw_gid, a.groups.data(), &n);
  }
  a.groups.resize(static_cast<size_t>(std::max(n, 0)));
  return a;
}

// Whether the account may use `path` for `bit` (r: 4, x: 1) by its mode bits.
bool allowed(const struct stat& sb, const Account& a, unsigned bit) {
  if (a.uid == 0) return true;
  if (sb.st_uid == a.uid) return sb.st_mode & (bit << 6);
  if (std::find(a.groups.begin(), a.groups.end(), sb.st_gid) != a.groups.end()) return sb.st_mode & (bit << 3);
  return sb.st_mode & bit;
}

// Empty when the account can read the file (every directory above searchable),
// else why not.
std::string why_unreadable(const std::string& path, const Account& a) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    struct stat sb {};
    if (::stat(dir.c_str(), &sb) != 0) return dir + ": " + std::strerror(errno);
    if (!allowed(sb, a, 1)) return "the directory " + dir + " is not searchable for it";
  }
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return path + ": " + std::strerror(errno);
  if (!allowed(sb, a, 4)) return path + " is not readable for it";
  return {};
}

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

DoctorCheck check_key_ring(const Config& config, const DoctorOptions& o, int64_t now_s) {
  const char* id = "key-ring";
  std::string path = config.str("VYTAL_TURN_KEYRING_FILE");
  if (path.empty())
    return warn(id,
                "no key ring (VYTAL_TURN_KEYRING_FILE): a static TURN secret cannot be rotated without dropping calls",
                "set VYTAL_TURN_KEYRING_FILE = /var/lib/vytalwatch/turn/keyring and run vytalctl rotate-turn-secret");
  KeyRingStatus k = key_ring_status(path, now_s);
  if (!k.error.empty())
    return fail(id, "the TURN key ring cannot be used: " + k.error, "vytalctl rotate-turn-secret creates a new one");
  Account a = account(o.turn_user);
  if (!a.found)
    return fail(id, "no user '" + o.turn_user + "' (vytal-turnserver's) on this machine",
                "reinstall the package (its postinst makes the user), or name the TURN server's user with --turn-user");
  std::string why = why_unreadable(path, a);
  if (!why.empty())
    return fail(id, "vytal-turnserver's user " + o.turn_user + " cannot read the key ring: " + why,
                "chown root:" + a.group + " " + path + "; chmod 0640 " + path);
  if (now_s - k.rotated_at_s > 90 * 86400)
    return warn(id,
                "the TURN secret was last rotated " + std::to_string((now_s - k.rotated_at_s) / 86400) + " days ago",
                "vytalctl rotate-turn-secret (calls in progress keep working during the overlap)");
  return ok(id, path + " readable by " + o.turn_user + ", current secret " +
                    std::to_string((now_s - k.rotated_at_s) / 86400) + " day(s) old");
}

DoctorCheck check_permissions(const Config& config, const DoctorOptions& o) {
  const char* id = "permissions";
  // What must stay private: the secrets, the key ring, the TURN key, the call
  // log (patient and provider ids) and the admin accounts.
  std::vector<std::pair<std::string, std::string>> files;  // path, what
  for (const std::string& p : o.config_paths)
    if (base_name(p) == "secrets.conf") files.emplace_back(p, "the secrets");
  if (config.is_set("VYTAL_TURN_KEYRING_FILE"))
    files.emplace_back(config.str("VYTAL_TURN_KEYRING_FILE"), "the key ring");
  if (config.is_set("VYTAL_TURN_KEY_FILE")) files.emplace_back(config.str("VYTAL_TURN_KEY_FILE"), "the TURN TLS key");
  std::string data = config.str("VYTAL_DATA_DIR");
  for (const char* f : {"calls.db", "calls.db-wal", "calls.db-shm", "admin.db"})
    files.emplace_back(data + "/" + f, std::string("the ") + (f[0] == 'c' ? "call log" : "admin accounts"));
  std::vector<std::string> open;
  std::string fix;
  int checked = 0;
  for (const auto& [path, what] : files) {
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) continue;
    ++checked;
    if (sb.st_mode & (S_IROTH | S_IWOTH) || sb.st_mode & S_IWGRP) {
      open.push_back(path + " (" + what + ", mode " + mode_text(sb.st_mode) + ")");
      fix += (fix.empty() ? "" : "; ") + std::string("chmod o-rwx,g-w ") + path;
    }
  }
  if (!open.empty()) return fail(id, "readable or writable by others: " + join(open), fix);
  return ok(id, std::to_string(checked) + " private file(s) (secrets, key ring, TLS key, call log) closed to others");
}

// ---- PostgreSQL ------------------------------------------------------------

DoctorCheck check_postgresql(const Config& config) {
  const char* id = "postgresql";
  if (!config.is_set("VYTAL_SITE_ID"))
    return warn(id, "the central PostgreSQL is not configured (VYTAL_SITE_ID is empty): calls stay on this appliance",
                "set VYTAL_SITE_ID and DATABASE_HOST in site.conf, DATABASE_PASSWORD in secrets.conf, then systemctl "
                "enable --now vytal-syncd");
  SyncdSettings s;
  try {
    s = read_syncd_settings(config);
  } catch (const ConfigError& e) {
    return fail(id, e.what(), "correct it in site.conf");
  }
  s.pg.connect_timeout_s = 5;
  std::string where = s.pg.user + "@" + host_port(s.pg.host, std::atoi(s.pg.port.c_str())) + "/" + s.pg.dbname;
  auto session = PgSession::connect(s.pg);
  if (!session)
    return fail(id,
                "cannot connect to the central PostgreSQL " + where + " (sslmode " + s.pg.sslmode +
                    "): " + session.error().message,
                "check DATABASE_HOST/PORT and the network path, the server, DATABASE_USER and DATABASE_PASSWORD "
                "(secrets.conf), DATABASE_SSLROOTCERT");
  PGconn* c = session->get();
  if (!PQsslInUse(c))
    return fail(id,
                "connected to " + where + " WITHOUT TLS (sslmode " + s.pg.sslmode +
                    "): the call log crosses the "
                    "network in clear",
                "turn on ssl in the central PostgreSQL and set DATABASE_SSLMODE = verify-full");
  const char* protocol = PQsslAttribute(c, "protocol");
  std::string tls = protocol ? protocol : "TLS";
  if (s.pg.sslmode != "verify-full")
    return warn(id,
                "connected to " + where + " with " + tls + ", but sslmode " + s.pg.sslmode +
                    " does not check the server's name: anyone on the path can pose as it",
                "set DATABASE_SSLMODE = verify-full (with DATABASE_SSLROOTCERT naming the CA)");
  return ok(id, "connected to " + where + " with " + tls + " (verify-full), server version " +
                    std::to_string(PQserverVersion(c) / 10000));
}

// ---- clock -----------------------------------------------------------------

DoctorCheck check_clock() {
  const char* id = "clock";
  ClockSync c = kernel_clock_sync();
  if (!c.known)
    return warn(id, "the clock's synchronization is unknown (adjtimex and timedated did not answer)",
                "timedatectl; make sure timesyncd or chrony runs");
  if (!c.synchronized)
    return warn(id, "the clock is not synchronized: TURN credentials and platform tokens depend on it",
                "timedatectl set-ntp true, and allow NTP (UDP 123) to a time server");
  return ok(id, "synchronized (maximum error " + std::to_string(c.max_error_us / 1000) + " ms)");
}

// ---- TURN ------------------------------------------------------------------

// What to do about a refused Allocate, by its error code.
std::string refused_allocation_fix(const Config& config, const std::string& error) {
  if (error.rfind("401", 0) == 0)
    return "it checks another key ring than signald mints with: see config-turn; systemctl restart vytal-turnserver";
  if (error.rfind("486", 0) == 0)
    // coturn keeps a freed allocation about a second, and counts it meanwhile.
    return "a quota is full: either vytalctl-doctor's own, " +
           std::to_string(config.integer("VYTAL_TURN_USER_QUOTA", 1, 100000)) +
           " allocations (VYTAL_TURN_USER_QUOTA), as each doctor run's allocation counts for about a second after "
           "it is freed: run doctor again a few seconds apart; or the server's, " +
           std::to_string(config.integer("VYTAL_TURN_TOTAL_QUOTA", 1, 10000000)) +
           " allocations in all (VYTAL_TURN_TOTAL_QUOTA): signald's /metrics counts those in use "
           "(vytal_turn_allocations)";
  return "journalctl -u vytal-turnserver -n 50 says why";
}

DoctorCheck check_turn_allocation(const Config& config, const StatusOptions& st, int64_t now_s) {
  const char* id = "turn-allocation";
  std::string secret = config.str("TURN_SHARED_SECRET");
  if (config.is_set("VYTAL_TURN_KEYRING_FILE")) {
    std::string error;
    auto ring = read_key_ring(config.str("VYTAL_TURN_KEYRING_FILE"), &error);
    if (!ring)
      return fail(id, "no credential to try: the key ring cannot be read: " + error,
                  "vytalctl rotate-turn-secret creates a new one");
    secret = ring->current;
  }
  if (secret.empty())
    return fail(id, "no credential to try: neither a key ring nor TURN_SHARED_SECRET is configured",
                "set VYTAL_TURN_KEYRING_FILE and run vytalctl rotate-turn-secret");
  TurnCredential cred =
      mint_turn_credential(secret, "vytalctl-doctor", now_s, config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400));
  TurnProbeTarget target{st.turn_host, st.turn_port, 1500};
  auto a = turn_allocate(target, cred.username, cred.credential);
  if (!a) {
    if (a.error().code == "refused")
      return fail(id, "vytal-turnserver refused an allocation with a fresh credential: " + a.error().message,
                  refused_allocation_fix(config, a.error().message));
    return fail(id, "no TURN allocation on " + host_port(st.turn_host, st.turn_port) + ": " + a.error().message,
                "systemctl status vytal-turnserver; journalctl -u vytal-turnserver -n 50");
  }
  return ok(id, "allocated the relay " + a->relayed_address + " (realm " + a->realm + ") with a fresh credential" +
                    (a->freed ? " and freed it" : ", not freed (it expires by itself)"));
}

DoctorCheck check_turn_udp(const StatusOptions& st) {
  const char* id = "port-turn-udp";
  auto r = stun_binding(TurnProbeTarget{st.turn_host, st.turn_port, 1000});
  if (r) return ok(id, "vytal-turnserver answers STUN on " + host_port(st.turn_host, st.turn_port) + " (UDP)");
  return fail(id, "vytal-turnserver: " + r.error().message,
              "systemctl status vytal-turnserver; journalctl -u vytal-turnserver -n 50");
}

}  // namespace

const char* verdict_name(Verdict v) { return v == Verdict::ok ? "OK" : v == Verdict::warn ? "WARN" : "FAIL"; }

std::vector<DoctorCheck> run_doctor(const Config& config, const DoctorOptions& o, int64_t now_s) {
  std::vector<DoctorCheck> out;
  StatusOptions st = read_status_options(config);
  std::string turn_fix = "systemctl status vytal-turnserver; journalctl -u vytal-turnserver -n 50";

  out.push_back(check_turn_config(config, o));
  out.push_back(check_secrets(config, o));
  out.push_back(check_ice_urls(config));

  out.push_back(check_http("port-signald", "vytal-signald", st.signald, "vytal-signald"));
  if (st.sync_configured)
    out.push_back(check_http("port-syncd-metrics", "vytal-syncd", st.syncd, "vytal-syncd"));
  else
    out.push_back(warn("port-syncd-metrics", "vytal-syncd is not configured (VYTAL_SITE_ID is empty)",
                       "configure the central PostgreSQL, then systemctl enable --now vytal-syncd"));
  out.push_back(check_turn_udp(st));
  out.push_back(check_tcp("port-turn-tcp", "vytal-turnserver", st.turn_host, st.turn_port, turn_fix));
  if (config.is_set("VYTAL_TURN_CERT_FILE"))
    out.push_back(check_tcp("port-turn-tls", "vytal-turnserver (TLS)", st.turn_host,
                            static_cast<int>(config.integer("VYTAL_TURN_TLS_PORT", 1, 65535)), turn_fix));
  else
    out.push_back(warn("port-turn-tls",
                       "TURN over TLS is off (VYTAL_TURN_CERT_FILE is empty): clinics that allow only "
                       "port 443 get no media",
                       "set VYTAL_TURN_CERT_FILE and VYTAL_TURN_KEY_FILE (packaging/EDGE.md)"));
  out.push_back(check_tcp("port-https", "nginx (HTTPS; TURN over TLS by name)", "127.0.0.1", kHttpsPort,
                          "systemctl status nginx; nginx -t (packaging/EDGE.md)"));
  int64_t admin_port = config.integer("VYTAL_ADMIN_PORT", 0, 65535);
  if (admin_port)
    out.push_back(check_tcp("port-admin", "vytal-admin", loopback_address(config.str("VYTAL_ADMIN_BIND")),
                            static_cast<int>(admin_port),
                            "systemctl status vytal-admin; journalctl -u vytal-admin -n 50"));
  else
    out.push_back(warn("port-admin", "VYTAL_ADMIN_PORT is 0: the admin page's port cannot be checked",
                       "set VYTAL_ADMIN_PORT (nginx forwards /admin/ to it)"));

  out.push_back(check_relay_address(config));

  std::vector<std::string> turn_names;
  for (const std::string& url : config.list("WEBRTC_TURN_SERVERS"))
    if (auto u = parse_ice_url(url); u && u->scheme == "turns") turn_names.push_back(u->host);
  out.push_back(check_certificate("certificate-https", "HTTPS (nginx)", config.str("VYTAL_HTTPS_CERT_FILE"),
                                  config.list("VYTAL_HTTPS_NAMES"), "", "VYTAL_HTTPS_NAMES", now_s));
  if (config.is_set("VYTAL_TURN_CERT_FILE"))
    out.push_back(check_certificate("certificate-turn", "TURN over TLS", config.str("VYTAL_TURN_CERT_FILE"), turn_names,
                                    config.str("VYTAL_TURN_KEY_FILE"), "a turns: URL in WEBRTC_TURN_SERVERS", now_s));
  out.push_back(check_key_ring(config, o, now_s));
  out.push_back(check_postgresql(config));
  out.push_back(check_clock());
  out.push_back(check_permissions(config, o));
  out.push_back(check_turn_allocation(config, st, now_s));
  return out;
}

int doctor_exit_status(const std::vector<DoctorCheck>& checks) {
  return std::any_of(checks.begin(), checks.end(), [](const DoctorCheck& c) { return c.verdict == Verdict::fail; }) ? 1
                                                                                                                    : 0;
}

std::string doctor_to_text(const std::vector<DoctorCheck>& checks) {
  std::string out;
  int counts[3] = {0, 0, 0};
  for (const DoctorCheck& c : checks) {
    ++counts[static_cast<int>(c.verdict)];
    char line[64];
    std::snprintf(line, sizeof line, "%-4s  %-19s ", verdict_name(c.verdict), c.id.c_str());
    out += line + c.detail + "\n";
    if (!c.fix.empty()) out += "      fix: " + c.fix + "\n";
  }
  out += "\n" + std::to_string(checks.size()) + " checks: " + std::to_string(counts[0]) + " OK, " +
         std::to_string(counts[1]) + " WARN, " + std::to_string(counts[2]) + " FAIL\n";
  return out;
}

JsonPtr doctor_to_json(const std::vector<DoctorCheck>& checks) {
  JsonPtr j(json_object());
  json_t* list = json_array();
  int counts[3] = {0, 0, 0};
  for (const DoctorCheck& c : checks) {
    ++counts[static_cast<int>(c.verdict)];
    json_t* o = json_object();
    json_put(o, "id", json_str(c.id));
    json_put(o, "status", json_str(verdict_name(c.verdict)));
    json_put(o, "detail", json_str(c.detail));
    json_put(o, "fix", c.fix.empty() ? nullptr : json_str(c.fix));
    json_array_append_new(list, o);
  }
  json_put(j.get(), "checks", list);
  json_put(j.get(), "ok", json_integer(counts[0]));
  json_put(j.get(), "warn", json_integer(counts[1]));
  json_put(j.get(), "fail", json_integer(counts[2]));
  return j;
}

}  // namespace vytal
