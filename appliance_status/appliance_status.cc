#include "appliance_status/appliance_status.h"

#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "appliance_status/prometheus_text.h"
#include "call_log/call_state.h"
#include "common/json.h"
#include "common/key_ring.h"
#include "common/sqlite.h"

#ifndef VYTAL_VERSION
#define VYTAL_VERSION "unknown"
#endif

namespace vytal {
namespace {

constexpr int64_t kDayMs = 86400000;

int severity_rank(const std::string& s) { return s == "critical" ? 0 : s == "warning" ? 1 : 2; }

std::string loopback_for(const std::string& bind) {
  if (bind == "0.0.0.0" || bind.empty()) return "127.0.0.1";
  if (bind == "::") return "::1";
  return bind;
}

std::string url_host(const std::string& host) { return host.find(':') != std::string::npos ? "[" + host + "]" : host; }

std::string format_local(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &local);
  return buf;
}

std::string human_duration(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " days";
}

ServiceStatus from_systemd(const std::string& name, const std::optional<UnitState>& unit) {
  ServiceStatus s;
  s.name = name;
  s.source = "systemd";
  if (!unit->loaded) {
    s.state = "not_installed";
    s.detail = "no such unit on this machine";
    return s;
  }
  s.state = unit->active_state == "active" ? "up" : "down";
  if (s.state == "up") s.started_at_ms = unit->active_since_ms;
  s.detail = unit->active_state + " (" + unit->sub_state + "), " + unit->unit_file_state;
  return s;
}

void collect_signald(const StatusOptions& o, ApplianceStatus& st, MetricSet& metrics) {
  ServiceStatus s;
  s.name = "vytal-signald";
  auto health = http_request(o.signald, "GET", "/healthz", "", o.timeout_ms);
  if (health && health->status == 200) {
    s.state = "up";
    s.source = "/healthz";
    s.detail = "answers on " + o.signald.base_url;
    if (auto m = http_request(o.signald, "GET", "/metrics", "", o.timeout_ms); m && m->status == 200)
      metrics = MetricSet(m->body);
  } else {
    s.state = "down";
    s.source = "/healthz";
    s.detail = health ? "/healthz answered " + std::to_string(health->status) : health.error().message;
  }
  if (!o.signald_control.unix_socket.empty()) {
    auto info = http_request(o.signald_control, "GET", "/internal/healthz", "", o.timeout_ms);
    if (info && info->status == 200) {
      std::string error;
      JsonPtr j = json_parse(info->body, &error);
      if (j) {
        if (auto v = json_string_field(j.get(), "version")) s.version = std::string(*v);
        if (auto t = json_integer_field(j.get(), "startedAt")) s.started_at_ms = *t;
      }
      s.source += ", local channel";
    } else if (s.state == "up") {
      s.detail += "; its local channel " + o.signald_control.unix_socket + " does not answer (admin audit waits)";
    }
  }
  if (s.version.empty())
    for (const MetricSample* b : metrics.all("vytal_build_info"))
      if (auto it = b->labels.find("version"); it != b->labels.end()) s.version = it->second;
  if (!s.started_at_ms)
    if (auto start = metrics.value("process_start_time_seconds")) s.started_at_ms = static_cast<int64_t>(*start * 1000);
  if (auto unit = systemd_unit_state("vytal-signald.service"); unit && unit->loaded && !s.started_at_ms)
    s.started_at_ms = unit->active_since_ms;
  st.services.push_back(std::move(s));
}

void collect_turn(const StatusOptions& o, ApplianceStatus& st) {
  auto unit = systemd_unit_state("vytal-turnserver.service");
  if (unit && unit->loaded) {
    st.services.push_back(from_systemd("vytal-turnserver", unit));
    return;
  }
  ServiceStatus s;
  s.name = "vytal-turnserver";
  s.source = "TCP probe";
  bool open = tcp_port_open(o.turn_host, o.turn_port, 300);
  s.state = open ? "up" : "down";
  s.detail = (open ? "accepts TCP on " : "nothing accepts TCP on ") + url_host(o.turn_host) + ":" +
             std::to_string(o.turn_port);
  st.services.push_back(std::move(s));
}

void collect_syncd(const StatusOptions& o, ApplianceStatus& st) {
  ServiceStatus s;
  s.name = "vytal-syncd";
  s.source = "/metrics";
  SyncFigures& f = st.sync;
  f.configured = o.sync_configured;
  auto m = http_request(o.syncd, "GET", "/metrics", "", o.timeout_ms);
  if (m && m->status == 200) {
    MetricSet metrics(m->body);
    f.reachable = true;
    f.connected = metrics.value("vytal_sync_connected").value_or(0) > 0;
    f.backlog_rows = static_cast<int64_t>(metrics.value("vytal_sync_backlog_rows").value_or(0));
    f.lag_s = metrics.value("vytal_sync_oldest_unsynced_age_seconds").value_or(0);
    f.last_success_ms =
        static_cast<int64_t>(metrics.value("vytal_sync_last_success_timestamp_seconds").value_or(0) * 1000);
    f.parked_rows = static_cast<int64_t>(metrics.value("vytal_sync_parked_rows_total").value_or(0));
    for (const MetricSample* e : metrics.all("vytal_sync_last_error_timestamp_seconds")) {
      f.last_error_ms = static_cast<int64_t>(e->value * 1000);
      if (auto it = e->labels.find("kind"); it != e->labels.end()) f.last_error_kind = it->second;
    }
    for (const MetricSample* b : metrics.all("vytal_build_info"))
      if (auto it = b->labels.find("version"); it != b->labels.end()) s.version = it->second;
    if (auto start = metrics.value("process_start_time_seconds")) s.started_at_ms = static_cast<int64_t>(*start * 1000);
    s.state = "up";
    s.detail = f.connected ? "connected to the central PostgreSQL" : "running, not connected to PostgreSQL";
  } else {
    s.state = o.sync_configured ? "down" : "not_configured";
    s.detail = o.sync_configured ? (m ? "/metrics answered " + std::to_string(m->status) : m.error().message)
                                 : "VYTAL_SITE_ID is not set: the call log is not sent to the platform";
  }
  if (auto unit = systemd_unit_state("vytal-syncd.service"); unit && unit->loaded) {
    if (!s.started_at_ms && s.state == "up") s.started_at_ms = unit->active_since_ms;
    s.source += ", systemd";
  }
  st.services.push_back(std::move(s));
}

void collect_nginx(ApplianceStatus& st) {
  auto unit = systemd_unit_state("nginx.service");
  if (unit && unit->loaded) st.services.push_back(from_systemd("nginx", unit));
}

void collect_calls(sqlite3* db, const MetricSet& metrics, int64_t now_ms, CallFigures& c) {
  c.today_since_ms = local_midnight_ms(now_ms);
  for (CallStatus s : kAllCallStatuses) c.today[call_status_name(s)] = 0;
  if (auto v = metrics.value("vytal_active_calls")) c.signald_active = static_cast<int64_t>(*v);
  if (auto v = metrics.value("vytal_open_connections")) c.open_connections = static_cast<int64_t>(*v);
  if (auto v = metrics.value("vytal_ws_sessions")) c.ws_sessions = static_cast<int64_t>(*v);
  if (!db) {
    c.error = "the call log cannot be read";
    return;
  }
  // Each through an index: calls by status, participants by call,
  // today's calls by (status, created_at).
  Statement active(db, "SELECT count(*) FROM calls WHERE status = 'active'");
  Statement reconnecting(db,
                         "SELECT count(*) FROM calls c JOIN call_participants p ON p.call_id = c.id AND p.status = "
                         "'reconnecting' WHERE c.status = 'active'");
  // Per status, a range of the (status, created_at, id) index: counted
  // without reading a single row.
  Statement today(db, "SELECT count(*) FROM calls WHERE status = ? AND created_at >= ?");
  if (active.step() != SQLITE_ROW || reconnecting.step() != SQLITE_ROW) {
    c.error = std::string("the call log cannot be read: ") + sqlite3_errmsg(db);
    return;
  }
  c.active = active.integer(0);
  c.reconnecting_participants = reconnecting.integer(0);
  for (CallStatus s : kAllCallStatuses) {
    today.bind(1, call_status_name(s)).bind(2, c.today_since_ms);
    if (today.step() != SQLITE_ROW) {
      c.error = std::string("the call log cannot be read: ") + sqlite3_errmsg(db);
      return;
    }
    c.today[call_status_name(s)] = today.integer(0);
    c.today_total += today.integer(0);
    today.reset();
  }
  c.known = true;
}

void collect_files(const StatusOptions& o, ApplianceStatus& st, int64_t now_s) {
  for (const auto& [label, path] : o.certificates) st.certificates.push_back(certificate_status(label, path, now_s));
  st.key_ring = key_ring_status(o.keyring_path, now_s);
  st.clock = kernel_clock_sync();
  st.data_dir = o.data_dir;
  if (auto d = disk_space(o.data_dir)) st.disk = d.value();
}

void find_problems(ApplianceStatus& st, int64_t now_s) {
  for (const ServiceStatus& s : st.services) {
    if (s.state != "down") continue;
    if (s.name == "vytal-signald")
      add_problem(st, {"critical", "vytal-signald is not answering: no call can be created or joined",
                       "systemctl status vytal-signald; journalctl -u vytal-signald -n 50"});
    else if (s.name == "vytal-turnserver")
      add_problem(st, {"critical", "vytal-turnserver is down: clients behind strict firewalls get no media",
                       "systemctl status vytal-turnserver; journalctl -u vytal-turnserver -n 50"});
    else if (s.name == "vytal-syncd")
      add_problem(st, {"warning", "vytal-syncd is down: the call log is not reaching the platform",
                       "systemctl status vytal-syncd; journalctl -u vytal-syncd -n 50"});
    else
      add_problem(st, {"critical", s.name + " is down: the appliance is unreachable over HTTPS",
                       "systemctl status " + s.name + "; nginx -t"});
  }
  const SyncFigures& f = st.sync;
  if (f.reachable && !f.connected)
    add_problem(st, {"warning",
                     "vytal-syncd cannot reach the central PostgreSQL (last error: " +
                         (f.last_error_kind.empty() ? std::string("none yet") : f.last_error_kind) + ")",
                     "check DATABASE_HOST, the network path and the PostgreSQL credentials in secrets.conf"});
  if (f.reachable && f.lag_s > 900)
    add_problem(st, {"warning",
                     "the oldest unsynced change is " + human_duration(static_cast<int64_t>(f.lag_s)) + " old (" +
                         std::to_string(f.backlog_rows) + " rows wait)",
                     "see vytal-syncd's log: journalctl -u vytal-syncd -n 50"});
  if (f.parked_rows > 0)
    add_problem(st, {"warning", std::to_string(f.parked_rows) + " call-log rows were refused by PostgreSQL (parked)",
                     "look at the sync_parked table and vytal-syncd's log"});
  for (const CertificateStatus& c : st.certificates) {
    if (!c.info.error.empty())
      add_problem(st, {"warning", c.label + " certificate " + c.info.path + " " + c.info.error,
                       "install the certificate (packaging/EDGE.md) or correct the configured path"});
    else if (c.days_left < 0)
      add_problem(st, {"critical", c.label + " certificate expired " + std::to_string(-c.days_left) + " days ago",
                       "renew it: certbot renew (the deploy hook installs it)"});
    else if (c.days_left < 14)
      add_problem(st, {"warning", c.label + " certificate expires in " + std::to_string(c.days_left) + " days",
                       "renew it: certbot renew (the deploy hook installs it)"});
    if (c.info.error.empty() && c.self_signed)
      add_problem(st, {"warning",
                       c.label + " certificate is self-signed: browsers refuse it" +
                           (c.label.find("TURN") != std::string::npos
                                ? std::string(" for TURN over TLS, so clinics that allow only port 443 get "
                                              "no media")
                                : std::string()),
                       "get a certificate from a CA for the appliance's names (certbot, packaging/EDGE.md)"});
  }
  const KeyRingStatus& k = st.key_ring;
  if (k.configured && !k.error.empty())
    add_problem(st, {"critical", "the TURN key ring cannot be used: " + k.error,
                     "vytalctl rotate-turn-secret creates a new one"});
  else if (k.configured && k.rotated_at_s && now_s - k.rotated_at_s > 90 * 86400)
    add_problem(st, {"info", "the TURN secret was last rotated " + human_duration(now_s - k.rotated_at_s) + " ago",
                     "vytalctl rotate-turn-secret (calls in progress keep working during the overlap)"});
  if (st.clock.known && !st.clock.synchronized)
    add_problem(st, {"warning", "the clock is not synchronized: TURN credentials and platform tokens depend on it",
                     "timedatectl set-ntp true, and allow NTP (UDP 123) to a time server"});
  if (st.disk && st.disk->total_bytes) {
    double free_share = static_cast<double>(st.disk->free_bytes) / static_cast<double>(st.disk->total_bytes);
    if (free_share < 0.05 || st.disk->free_bytes < (1ull << 30))
      add_problem(st, {"critical", "little free space where the call log lives (" + st.data_dir + ")",
                       "free space on that file system, or set VYTAL_SYNC_RETENTION_DAYS to prune synced rows"});
    else if (free_share < 0.15)
      add_problem(st, {"warning", "free space where the call log lives is below 15 %",
                       "plan more space, or set VYTAL_SYNC_RETENTION_DAYS to prune synced rows"});
  }
  if (!st.calls.error.empty())
    add_problem(st, {"critical", st.calls.error, "check that " + st.data_dir + "/calls.db exists and is readable"});
}

json_t* opt_int(const std::optional<int64_t>& v) { return v ? json_integer(*v) : json_null(); }

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  if (n > 0) {
    size_t at = out.size();
    out.resize(at + static_cast<size_t>(n) + 1);
    std::vsnprintf(out.data() + at, static_cast<size_t>(n) + 1, fmt, again);
    out.resize(at + static_cast<size_t>(n));
  }
  va_end(again);
}

}  // namespace

CertificateStatus certificate_status(const std::string& label, const std::string& path, int64_t now_s) {
  CertificateStatus c;
  c.label = label;
  c.info = read_certificate(path);
  if (c.info.error.empty()) {
    c.days_left = static_cast<int64_t>(std::floor((c.info.not_after_s - now_s) / 86400.0));
    // Development certificates made at install are self-signed.
    std::unique_ptr<FILE, decltype(&fclose)> f(std::fopen(path.c_str(), "r"), &fclose);
    X509Ptr cert(f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr);
    c.self_signed = cert && X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) == 0;
  }
  return c;
}

KeyRingStatus key_ring_status(const std::string& path, int64_t now_s) {
  KeyRingStatus k;
  k.path = path;
  k.configured = !path.empty();
  if (k.configured) {
    std::string error;
    auto ring = read_key_ring(path, &error);
    struct stat sb {};
    if (!ring) {
      k.error = error;
    } else {
      // When the current secret took over, as the ring records it; a copy or
      // a restore resets the file's time. A ring older than that line: the
      // file's time.
      if (ring->current_since_s > 0)
        k.rotated_at_s = ring->current_since_s;
      else if (::stat(path.c_str(), &sb) == 0)
        k.rotated_at_s = sb.st_mtim.tv_sec;
      k.previous_accepted = !ring->previous.empty() && ring->previous_until_s > now_s;
      k.previous_until_s = ring->previous.empty() ? 0 : ring->previous_until_s;
    }
  }
  return k;
}

std::string loopback_address(const std::string& bind) { return loopback_for(bind); }

StatusOptions read_status_options(const Config& config) {
  StatusOptions o;
  std::string host = url_host(loopback_for(config.str("VYTAL_BIND_ADDRESS")));
  o.signald.base_url = "http://" + host + ":" + std::to_string(config.integer("PORT", 0, 65535));
  if (config.is_set("VYTAL_SIGNALD_CONTROL_SOCKET")) {
    o.signald_control.base_url = "http://signald";
    o.signald_control.unix_socket = config.str("VYTAL_SIGNALD_CONTROL_SOCKET");
  }
  o.syncd.base_url = "http://" + host + ":" + std::to_string(config.integer("VYTAL_SYNC_METRICS_PORT", 0, 65535));
  o.sync_configured = config.is_set("VYTAL_SITE_ID");
  std::vector<std::string> turn_ips = config.list("VYTAL_TURN_LISTEN_IPS");
  o.turn_host = loopback_for(turn_ips.empty() ? "127.0.0.1" : turn_ips.front());
  o.turn_port = static_cast<int>(config.integer("VYTAL_TURN_PORT", 1, 65535));
  o.data_dir = config.str("VYTAL_DATA_DIR");
  if (config.is_set("VYTAL_HTTPS_CERT_FILE"))
    o.certificates.emplace_back("HTTPS (nginx)", config.str("VYTAL_HTTPS_CERT_FILE"));
  if (config.is_set("VYTAL_TURN_CERT_FILE"))
    o.certificates.emplace_back("TURN over TLS", config.str("VYTAL_TURN_CERT_FILE"));
  o.keyring_path = config.str("VYTAL_TURN_KEYRING_FILE");
  o.rotation_overlap_s = config.integer("VYTAL_TURN_ROTATION_OVERLAP_SECONDS", 0, 30 * 86400);
  return o;
}

bool ApplianceStatus::needs_attention() const {
  return std::any_of(problems.begin(), problems.end(), [](const Problem& p) { return p.severity != "info"; });
}

void add_problem(ApplianceStatus& status, Problem problem) {
  status.problems.push_back(std::move(problem));
  std::stable_sort(status.problems.begin(), status.problems.end(), [](const Problem& a, const Problem& b) {
    return severity_rank(a.severity) < severity_rank(b.severity);
  });
}

std::string local_time_zone_name(int64_t now_ms) {
  std::string name;
  if (const char* tz = std::getenv("TZ"); tz && *tz) name = tz[0] == ':' ? tz + 1 : tz;
  if (name.empty()) {
    char link[256];
    ssize_t n = readlink("/etc/localtime", link, sizeof link - 1);
    if (n > 0) {
      std::string target(link, static_cast<size_t>(n));
      size_t at = target.find("zoneinfo/");
      if (at != std::string::npos) name = target.substr(at + 9);
    }
  }
  if (name.empty()) {
    std::ifstream f("/etc/timezone");
    std::getline(f, name);
  }
  time_t t = static_cast<time_t>(now_ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  char abbr[16];
  std::strftime(abbr, sizeof abbr, "%Z", &local);
  if (name.empty() || name == abbr) return abbr;
  return name + " (" + abbr + ")";
}

int64_t local_midnight_ms(int64_t now_ms) {
  time_t t = static_cast<time_t>(now_ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  local.tm_hour = local.tm_min = local.tm_sec = 0;
  local.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&local)) * 1000;
}

ApplianceStatus collect_status(const StatusOptions& o, sqlite3* call_log, const Clock& clock) {
  ApplianceStatus st;
  st.generated_at_ms = clock.now_ms();
  st.time_zone = local_time_zone_name(st.generated_at_ms);
  st.version = VYTAL_VERSION;
  MetricSet signald_metrics;
  collect_signald(o, st, signald_metrics);
  collect_turn(o, st);
  collect_syncd(o, st);
  collect_nginx(st);
  collect_calls(call_log, signald_metrics, st.generated_at_ms, st.calls);
  collect_files(o, st, st.generated_at_ms / 1000);
  find_problems(st, st.generated_at_ms / 1000);
  return st;
}

JsonPtr status_to_json(const ApplianceStatus& st) {
  JsonPtr j(json_object());
  json_put(j.get(), "generatedAt", json_integer(st.generated_at_ms));
  json_put(j.get(), "timeZone", json_str(st.time_zone));
  json_put(j.get(), "version", json_str(st.version));
  json_put(j.get(), "needsAttention", json_boolean(st.needs_attention()));
  json_t* services = json_array();
  for (const ServiceStatus& s : st.services) {
    json_t* o = json_object();
    json_put(o, "name", json_str(s.name));
    json_put(o, "state", json_str(s.state));
    json_put(o, "version", s.version.empty() ? nullptr : json_str(s.version));
    json_put(o, "startedAt", s.started_at_ms ? json_integer(s.started_at_ms) : nullptr);
    json_put(o, "uptimeSeconds",
             s.started_at_ms ? json_integer((st.generated_at_ms - s.started_at_ms) / 1000) : nullptr);
    json_put(o, "source", json_str(s.source));
    json_put(o, "detail", json_str(s.detail));
    json_array_append_new(services, o);
  }
  json_put(j.get(), "services", services);
  const CallFigures& c = st.calls;
  json_t* calls = json_object();
  json_put(calls, "known", json_boolean(c.known));
  json_put(calls, "active", json_integer(c.active));
  json_put(calls, "reconnectingParticipants", json_integer(c.reconnecting_participants));
  json_put(calls, "signaldActive", opt_int(c.signald_active));
  json_put(calls, "openConnections", opt_int(c.open_connections));
  json_put(calls, "wsSessions", opt_int(c.ws_sessions));
  json_put(calls, "todaySince", json_integer(c.today_since_ms));
  json_t* today = json_object();
  for (const auto& [status, n] : c.today) json_put(today, status.c_str(), json_integer(n));
  json_put(calls, "today", today);
  json_put(calls, "todayTotal", json_integer(c.today_total));
  json_put(calls, "error", c.error.empty() ? nullptr : json_str(c.error));
  json_put(j.get(), "calls", calls);
  const SyncFigures& f = st.sync;
  json_t* sync = json_object();
  json_put(sync, "configured", json_boolean(f.configured));
  json_put(sync, "reachable", json_boolean(f.reachable));
  json_put(sync, "connected", json_boolean(f.connected));
  json_put(sync, "backlogRows", json_integer(f.backlog_rows));
  json_put(sync, "lagSeconds", json_real(f.lag_s));
  json_put(sync, "lastSuccessAt", f.last_success_ms ? json_integer(f.last_success_ms) : nullptr);
  json_put(sync, "lastErrorKind", f.last_error_kind.empty() ? nullptr : json_str(f.last_error_kind));
  json_put(sync, "lastErrorAt", f.last_error_ms ? json_integer(f.last_error_ms) : nullptr);
  json_put(sync, "parkedRows", json_integer(f.parked_rows));
  json_put(j.get(), "sync", sync);
  json_t* certs = json_array();
  for (const CertificateStatus& c2 : st.certificates) {
    json_t* o = json_object();
    json_put(o, "label", json_str(c2.label));
    json_put(o, "path", json_str(c2.info.path));
    json_put(o, "subject", json_str(c2.info.subject));
    json_put(o, "notAfter", c2.info.error.empty() ? json_integer(c2.info.not_after_s * 1000) : nullptr);
    json_put(o, "daysLeft", c2.info.error.empty() ? json_integer(c2.days_left) : nullptr);
    json_put(o, "selfSigned", json_boolean(c2.self_signed));
    json_put(o, "error", c2.info.error.empty() ? nullptr : json_str(c2.info.error));
    json_array_append_new(certs, o);
  }
  json_put(j.get(), "certificates", certs);
  const KeyRingStatus& k = st.key_ring;
  json_t* ring = json_object();
  json_put(ring, "configured", json_boolean(k.configured));
  json_put(ring, "path", json_str(k.path));
  json_put(ring, "error", k.error.empty() ? nullptr : json_str(k.error));
  json_put(ring, "rotatedAt", k.rotated_at_s ? json_integer(k.rotated_at_s * 1000) : nullptr);
  json_put(ring, "previousAccepted", json_boolean(k.previous_accepted));
  json_put(ring, "previousUntil", k.previous_until_s ? json_integer(k.previous_until_s * 1000) : nullptr);
  json_put(j.get(), "keyRing", ring);
  json_t* clk = json_object();
  json_put(clk, "known", json_boolean(st.clock.known));
  json_put(clk, "synchronized", json_boolean(st.clock.synchronized));
  json_put(clk, "maxErrorMicroseconds", json_integer(st.clock.max_error_us));
  json_put(j.get(), "clock", clk);
  json_t* disk = json_object();
  json_put(disk, "path", json_str(st.data_dir));
  json_put(disk, "freeBytes", st.disk ? json_integer(static_cast<json_int_t>(st.disk->free_bytes)) : nullptr);
  json_put(disk, "totalBytes", st.disk ? json_integer(static_cast<json_int_t>(st.disk->total_bytes)) : nullptr);
  json_put(j.get(), "disk", disk);
  json_t* problems = json_array();
  for (const Problem& p : st.problems) {
    json_t* o = json_object();
    json_put(o, "severity", json_str(p.severity));
    json_put(o, "title", json_str(p.title));
    json_put(o, "action", json_str(p.action));
    json_array_append_new(problems, o);
  }
  json_put(j.get(), "problems", problems);
  return j;
}

std::string status_to_text(const ApplianceStatus& st) {
  std::string out;
  appendf(out, "VytalWatch appliance %s, %s (times in %s)\n\n", st.version.c_str(),
          format_local(st.generated_at_ms).c_str(), st.time_zone.c_str());
  appendf(out, "Services\n");
  for (const ServiceStatus& s : st.services) {
    std::string up = s.started_at_ms ? ", up " + human_duration((st.generated_at_ms - s.started_at_ms) / 1000) : "";
    appendf(out, "  %-17s %-14s %s%s  (%s: %s)\n", s.name.c_str(), s.state.c_str(),
            s.version.empty() ? "" : ("version " + s.version).c_str(), up.c_str(), s.source.c_str(), s.detail.c_str());
  }
  const CallFigures& c = st.calls;
  appendf(out, "\nCalls\n  now: %lld active, %lld participants reconnecting\n", static_cast<long long>(c.active),
          static_cast<long long>(c.reconnecting_participants));
  appendf(out, "  today (since %s): %lld created", format_local(c.today_since_ms).c_str(),
          static_cast<long long>(c.today_total));
  for (const auto& [status, n] : c.today)
    if (n) appendf(out, ", %lld %s", static_cast<long long>(n), status.c_str());
  appendf(out, "\n");
  const SyncFigures& f = st.sync;
  appendf(out, "\nSync to the platform\n");
  if (!f.configured && !f.reachable)
    appendf(out, "  not configured (VYTAL_SITE_ID is empty)\n");
  else if (!f.reachable)
    appendf(out, "  vytal-syncd does not answer\n");
  else
    appendf(out, "  %s; %lld rows waiting, oldest %.0f s old; last success %s; last error %s; %lld rows parked\n",
            f.connected ? "connected" : "NOT connected", static_cast<long long>(f.backlog_rows), f.lag_s,
            f.last_success_ms ? format_local(f.last_success_ms).c_str() : "never",
            f.last_error_kind.empty() ? "none" : (f.last_error_kind + " at " + format_local(f.last_error_ms)).c_str(),
            static_cast<long long>(f.parked_rows));
  appendf(out, "\nCertificates\n");
  if (st.certificates.empty()) appendf(out, "  none configured\n");
  for (const CertificateStatus& cert : st.certificates) {
    if (!cert.info.error.empty())
      appendf(out, "  %-15s %s: %s\n", cert.label.c_str(), cert.info.path.c_str(), cert.info.error.c_str());
    else
      appendf(out, "  %-15s expires in %lld days (%s)%s\n", cert.label.c_str(), static_cast<long long>(cert.days_left),
              format_local(cert.info.not_after_s * 1000).c_str(), cert.self_signed ? ", self-signed" : "");
  }
  const KeyRingStatus& k = st.key_ring;
  appendf(out, "\nTURN key ring\n");
  if (!k.configured)
    appendf(out, "  not used (a static TURN_SHARED_SECRET)\n");
  else if (!k.error.empty())
    appendf(out, "  %s: %s\n", k.path.c_str(), k.error.c_str());
  else
    appendf(out, "  current secret %s old; %s\n", human_duration(st.generated_at_ms / 1000 - k.rotated_at_s).c_str(),
            k.previous_accepted ? ("previous secret accepted until " + format_local(k.previous_until_s * 1000)).c_str()
                                : "no previous secret accepted");
  appendf(out, "\nClock: %s\n",
          !st.clock.known         ? "unknown"
          : st.clock.synchronized ? "synchronized"
                                  : "NOT synchronized");
  if (st.disk)
    appendf(out, "Free space in %s: %.1f GiB of %.1f GiB\n", st.data_dir.c_str(), st.disk->free_bytes / 1073741824.0,
            st.disk->total_bytes / 1073741824.0);
  appendf(out, "\nProblems\n");
  if (st.problems.empty()) appendf(out, "  none\n");
  for (const Problem& p : st.problems)
    appendf(out, "  [%s] %s\n      -> %s\n", p.severity.c_str(), p.title.c_str(), p.action.c_str());
  return out;
}

}  // namespace vytal
