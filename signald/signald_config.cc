#include "signald/signald_config.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/files.h"
#include "common/key_ring.h"

namespace vytal {
namespace {

bool is_host_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
}

// An ICE server URL as RFC 7064 (stun, stuns) and RFC 7065 (turn, turns)
// write it: scheme ":" host [":" port], and for TURN "?transport=udp|tcp".
// A browser given a port it cannot use fails the whole RTCPeerConnection, so
// a bad one stops start-up here instead.
void check_ice_url(const char* key, const std::string& url, std::string_view scheme, bool turn) {
  auto bad = [&](const std::string& why) { return ConfigError(std::string(key) + ": '" + url + "': " + why); };
  std::string_view rest = std::string_view(url).substr(scheme.size());
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    if (!turn || (query != "transport=udp" && query != "transport=tcp"))
      throw bad(turn ? "the only query is ?transport=udp or ?transport=tcp" : "a STUN URL has no query");
    rest = rest.substr(0, q);
  }
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {  // an IPv6 literal
    size_t close = rest.find(']');
    if (close == std::string_view::npos) throw bad("unclosed [ in the host");
    host = rest.substr(1, close - 1);
    unsigned char addr[16];
    if (inet_pton(AF_INET6, std::string(host).c_str(), addr) != 1) throw bad("not an IPv6 address in [ ]");
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') throw bad("expected :port after the address");
    if (!rest.empty()) port = rest.substr(1);
    if (!rest.empty() && port.empty()) throw bad("empty port");
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) throw bad("empty port");
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), is_host_char))
      throw bad("the host must be a name or an address");
  }
  if (!port.empty()) {
    int n = 0;
    for (char ch : port) {
      if (ch < '0' || ch > '9' || n > 65535) throw bad("the port must be a number from 1 to 65535");
      n = n * 10 + (ch - '0');
    }
    if (n < 1 || n > 65535) throw bad("the port must be a number from 1 to 65535");
  }
}

void check_urls(const Config& config, const char* key, std::initializer_list<std::string_view> schemes, bool turn) {
  for (const std::string& url : config.list(key)) {
    bool ok = false;
    for (std::string_view s : schemes) {
      if (url.size() > s.size() && url.compare(0, s.size(), s) == 0) {
        check_ice_url(key, url, s, turn);
        ok = true;
        break;
      }
    }
    if (!ok)
      throw ConfigError(std::string(key) + ": '" + url + "' does not start with " + std::string(*schemes.begin()));
  }
}

}  // namespace

SignaldSettings read_signald_settings(const Config& config) {
  SignaldSettings s;
  s.log_level = read_log_level(config);

  s.http.bind_address = config.str("VYTAL_BIND_ADDRESS");
  s.http.port = static_cast<int>(config.integer("PORT", 0, 65535));
  s.http.max_header_bytes = config.integer("VYTAL_MAX_HEADER_BYTES", 1024, 1 << 20);
  s.http.max_body_bytes = config.integer("VYTAL_MAX_BODY_BYTES", 1024, 16 << 20);
  s.http.max_connections = static_cast<int>(config.integer("VYTAL_MAX_CONNECTIONS", 1, 1000000));
  s.http.max_connections_per_ip = static_cast<int>(config.integer("VYTAL_MAX_CONNECTIONS_PER_IP", 1, 1000000));
  for (const std::string& ip : config.list("VYTAL_TRUSTED_PROXIES")) {
    // Kept in the form inet_ntop gives the peer's address ("0:0::1" is "::1").
    unsigned char addr[16];
    char canonical[INET6_ADDRSTRLEN];
    int family = inet_pton(AF_INET, ip.c_str(), addr) == 1    ? AF_INET
                 : inet_pton(AF_INET6, ip.c_str(), addr) == 1 ? AF_INET6
                                                              : 0;
    if (!family || !inet_ntop(family, addr, canonical, sizeof canonical))
      throw ConfigError("VYTAL_TRUSTED_PROXIES: '" + ip + "' is not an IP address");
    s.http.trusted_proxies.emplace_back(canonical);
  }
  s.http.local_socket_path = config.str("VYTAL_SIGNALD_CONTROL_SOCKET");
  if (!s.http.local_socket_path.empty() && s.http.local_socket_path[0] != '/')
    throw ConfigError("VYTAL_SIGNALD_CONTROL_SOCKET: must be an absolute path");
  s.http.request_timeout_s = static_cast<int>(config.integer("VYTAL_REQUEST_TIMEOUT_SECONDS", 1, 3600));
  s.http.keepalive_timeout_s = static_cast<int>(config.integer("VYTAL_KEEPALIVE_TIMEOUT_SECONDS", 1, 86400));
  s.http.write_timeout_s = static_cast<int>(config.integer("VYTAL_WRITE_TIMEOUT_SECONDS", 1, 3600));

  s.http.ws_max_message_bytes = config.integer("VYTAL_WS_MAX_MESSAGE_BYTES", 1024, 16 << 20);
  s.http.ws_ping_interval_s = static_cast<int>(config.integer("VYTAL_WS_PING_INTERVAL_SECONDS", 2, 3600));

  s.signaling.reconnect_grace_s = config.integer("VYTAL_RECONNECT_GRACE_SECONDS", 1, 3600);
  s.signaling.message_rate = static_cast<double>(config.integer("VYTAL_WS_MESSAGE_RATE", 1, 10000));
  s.signaling.message_burst = static_cast<double>(config.integer("VYTAL_WS_MESSAGE_BURST", 1, 100000));
  s.signaling.quality_sample_s = config.integer("VYTAL_QUALITY_SAMPLE_SECONDS", 0, 3600);
  s.signaling.quality_samples_per_call = static_cast<int>(config.integer("VYTAL_QUALITY_SAMPLES_PER_CALL", 0, 1000000));

  s.limits.creates_per_minute = static_cast<double>(config.integer("VYTAL_SUBJECT_CREATES_PER_MINUTE", 0, 1000000));
  s.limits.create_burst = static_cast<double>(config.integer("VYTAL_SUBJECT_CREATE_BURST", 1, 1000000));
  s.limits.writes_per_minute = static_cast<double>(config.integer("VYTAL_SUBJECT_WRITES_PER_MINUTE", 0, 1000000));
  s.limits.write_burst = static_cast<double>(config.integer("VYTAL_SUBJECT_WRITE_BURST", 1, 1000000));
  s.limits.service_writes_per_minute =
      static_cast<double>(config.integer("VYTAL_SERVICE_WRITES_PER_MINUTE", 0, 100000000));
  s.limits.max_sessions = static_cast<int>(config.integer("VYTAL_MAX_SESSIONS_PER_SUBJECT", 0, 100000));
  s.http.ws_max_total_output_bytes = config.integer("VYTAL_WS_MAX_TOTAL_OUTPUT_BYTES", 65536, int64_t{1} << 40);

  s.call_log.db_path = read_call_log_path(config);
  s.call_log.max_open_calls_per_patient =
      static_cast<int>(config.integer("VYTAL_MAX_OPEN_CALLS_PER_PATIENT", 0, 1000000));
  s.call_log.denied_audits_per_minute = static_cast<int>(config.integer("VYTAL_DENIED_AUDITS_PER_MINUTE", 0, 1000000));
  s.limits.denied_audits_per_minute = s.call_log.denied_audits_per_minute;
  s.call_log.max_batch = config.boolean("VYTAL_GROUP_COMMIT")
                             ? static_cast<int>(config.integer("VYTAL_GROUP_COMMIT_MAX_BATCH", 1, 100000))
                             : 1;
  s.call_log.max_pending = config.integer("VYTAL_MAX_PENDING_WRITES", 1, 10000000);
  s.call_log.max_participants = static_cast<int>(config.integer("VYTAL_MAX_PARTICIPANTS", 2, 64));
  s.signaling.max_participants = s.call_log.max_participants;

  auto alg = parse_jwt_algorithm(config.str("JWT_ALGORITHM"));
  if (!alg) throw ConfigError("JWT_ALGORITHM: " + alg.error().message);
  s.jwt.algorithm = alg.value();
  s.jwt.secret = config.str("JWT_SECRET");
  // RFC 7518 3.2: an HS256 key has at least 256 bits. A short one can be
  // guessed offline from any token; the package's configuration refuses it.
  if (s.jwt.algorithm == JwtAlgorithm::hs256 && !s.jwt.secret.empty() && s.jwt.secret.size() < kMinJwtSecretBytes) {
    if (config.boolean("VYTAL_REQUIRE_STRONG_JWT_SECRET"))
      throw ConfigError("JWT_SECRET: " + std::to_string(s.jwt.secret.size()) + " bytes; HS256 needs at least " +
                        std::to_string(kMinJwtSecretBytes) + " (VYTAL_REQUIRE_STRONG_JWT_SECRET is on)");
    s.weak_jwt_secret = true;
  }
  if (s.jwt.algorithm != JwtAlgorithm::hs256) {
    const std::string& path = config.str("JWT_PUBLIC_KEY_FILE");
    if (path.empty())
      throw ConfigError("JWT_PUBLIC_KEY_FILE: required with JWT_ALGORITHM=" + config.str("JWT_ALGORITHM"));
    std::string why;
    auto pem = read_file(path, &why);
    if (!pem) throw ConfigError("JWT_PUBLIC_KEY_FILE: cannot read " + why);
    s.jwt.public_key_pem = std::move(*pem);
  }
  s.jwt.audience = config.str("JWT_AUDIENCE");
  s.jwt.issuer = config.str("JWT_ISSUER");
  s.jwt.leeway_s = config.integer("JWT_LEEWAY_SECONDS", 0, 300);

  check_urls(config, "WEBRTC_STUN_SERVERS", {"stun:", "stuns:"}, false);
  check_urls(config, "WEBRTC_TURN_SERVERS", {"turn:", "turns:"}, true);
  s.ice.stun_urls = config.list("WEBRTC_STUN_SERVERS");
  s.ice.turn_urls = config.list("WEBRTC_TURN_SERVERS");
  s.ice.turn_secret = config.str("TURN_SHARED_SECRET");
  s.ice.static_username = config.str("WEBRTC_TURN_USERNAME");
  s.ice.static_password = config.str("WEBRTC_TURN_PASSWORD");
  s.ice.ttl_s = config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400);
  s.ice.keyring_path = config.str("VYTAL_TURN_KEYRING_FILE");
  s.ice.revoked_path = config.str("VYTAL_TURN_REVOKED_FILE");
  s.ice.usage_socket = config.str("VYTAL_TURN_USAGE_SOCKET");
  s.ice.max_revocations = config.integer("VYTAL_TURN_MAX_REVOCATIONS", 100, 10000000);
  if (!s.ice.keyring_path.empty()) {
    std::string error;
    if (!read_key_ring(s.ice.keyring_path, &error)) throw ConfigError("VYTAL_TURN_KEYRING_FILE: " + error);
  }
  if (!s.ice.turn_urls.empty() && s.ice.turn_secret.empty() && s.ice.keyring_path.empty() &&
      (s.ice.static_username.empty() || s.ice.static_password.empty()))
    throw ConfigError(
        "TURN_SHARED_SECRET: required when WEBRTC_TURN_SERVERS is set (or a static WEBRTC_TURN_USERNAME/PASSWORD)");

  s.monitoring.data_dir = config.str("VYTAL_DATA_DIR");
  s.monitoring.tls_cert_files = config.list("VYTAL_TLS_CERT_FILES");
  const std::string& turn_cert = config.str("VYTAL_TURN_CERT_FILE");
  if (!turn_cert.empty() && std::find(s.monitoring.tls_cert_files.begin(), s.monitoring.tls_cert_files.end(),
                                      turn_cert) == s.monitoring.tls_cert_files.end())
    s.monitoring.tls_cert_files.push_back(turn_cert);
  if (!s.ice.usage_socket.empty()) {  // a vytal-turnserver of this appliance reports here: watch it
    std::vector<std::string> listen = config.list("VYTAL_TURN_LISTEN_IPS");
    std::string host = listen.empty() ? "0.0.0.0" : listen.front();
    s.monitoring.turn_probe_host = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
    s.monitoring.turn_probe_port = static_cast<int>(config.integer("VYTAL_TURN_PORT", 1, 65535));
  }
  s.monitoring.turn_total_quota = config.integer("VYTAL_TURN_TOTAL_QUOTA", 0, 10000000);

  for (std::string origin : config.list("FRONTEND_URL")) {
    while (!origin.empty() && origin.back() == '/') origin.pop_back();
    if (origin.compare(0, 7, "http://") != 0 && origin.compare(0, 8, "https://") != 0)
      throw ConfigError("FRONTEND_URL: '" + origin + "' is not an http(s) origin");
    s.allowed_origins.push_back(origin);
  }
  return s;
}

}  // namespace vytal
