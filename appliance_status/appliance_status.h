// The appliance's state at a glance, from the same code for the admin
// page's overview (vytal-admin) and `vytalctl status`: each service up or
// down with version and uptime, calls now and today, the sync backlog and
// lag, certificate expiry, the TURN key ring, clock synchronization, free
// space where the call log lives, and a list of problems, worst first, each
// with what to do. Sources: signald's local channel and /metrics, syncd's
// /metrics, systemd over D-Bus when it runs, the call log (read-only), the
// files the configuration names. Collecting takes a few milliseconds when
// the services answer; a service that does not is given up on after
// `timeout_ms`. Thread-safe as long as each caller passes its own
// connection to the call log.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "appliance_status/http_client.h"
#include "appliance_status/system_probes.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/handles.h"

namespace vytal {

struct StatusOptions {
  HttpTarget signald;            // its TCP address (/healthz, /metrics)
  HttpTarget signald_control;    // its local channel (version, start time); unix_socket empty: none
  HttpTarget syncd;              // its /metrics and /healthz
  bool sync_configured = false;  // VYTAL_SITE_ID is set (syncd is installed disabled until then)
  std::string turn_host = "127.0.0.1";
  int turn_port = 3478;
  std::string data_dir;
  std::vector<std::pair<std::string, std::string>> certificates;  // label, path
  std::string keyring_path;
  int64_t rotation_overlap_s = 3600;
  long timeout_ms = 1000;
};

// Throws ConfigError naming a bad key.
StatusOptions read_status_options(const Config& config);

struct ServiceStatus {
  std::string name;           // vytal-signald, vytal-turnserver, vytal-syncd, nginx
  std::string state;          // up, down, not_configured, not_installed
  std::string version;        // empty: unknown
  int64_t started_at_ms = 0;  // 0: unknown
  std::string source;         // how we know: "local channel", "systemd", "TCP probe", ...
  std::string detail;         // one line for a person
};

struct CallFigures {
  bool known = false;
  int64_t active = 0;                     // calls with status active (the call log)
  int64_t reconnecting_participants = 0;  // participants of active calls within their reconnect grace
  std::optional<int64_t> signald_active;  // vytal_active_calls from signald's /metrics
  std::optional<int64_t> open_connections;
  std::optional<int64_t> ws_sessions;
  int64_t today_since_ms = 0;            // local midnight
  std::map<std::string, int64_t> today;  // created today, by status (every status present)
  int64_t today_total = 0;
  std::string error;
};

struct SyncFigures {
  bool configured = false;
  bool reachable = false;
  bool connected = false;
  int64_t backlog_rows = 0;
  double lag_s = 0;  // age of the oldest change not yet in PostgreSQL
  int64_t last_success_ms = 0;
  std::string last_error_kind;
  int64_t last_error_ms = 0;
  int64_t parked_rows = 0;
};

struct CertificateStatus {
  std::string label;  // what it is for: "HTTPS (nginx)", "TURN over TLS"
  CertificateInfo info;
  int64_t days_left = 0;
  bool self_signed = false;
};

struct KeyRingStatus {
  bool configured = false;
  std::string path;
  std::string error;
  int64_t rotated_at_s = 0;  // when the current secret took over (the ring's current-since, else the file's time)
  bool previous_accepted = false;
  int64_t previous_until_s = 0;
};

struct Problem {
  std::string severity;  // critical, warning, info
  std::string title;
  std::string action;  // what to do about it
};

struct ApplianceStatus {
  int64_t generated_at_ms = 0;
  std::string time_zone;  // e.g. "Europe/Berlin (CET)"
  std::string version;    // the package version these programs were built from
  std::vector<ServiceStatus> services;
  CallFigures calls;
  SyncFigures sync;
  std::vector<CertificateStatus> certificates;
  KeyRingStatus key_ring;
  ClockSync clock;
  std::string data_dir;
  std::optional<DiskSpace> disk;
  std::vector<Problem> problems;  // worst first

  // A critical or warning problem: vytalctl status exits non-zero.
  bool needs_attention() const;
};

// `call_log` is a read-only connection to the call log (null: the figures
// say why they are missing).
ApplianceStatus collect_status(const StatusOptions& options, sqlite3* call_log, const Clock& clock);
// Adds a problem and keeps the list worst first.
void add_problem(ApplianceStatus& status, Problem problem);

// One certificate's expiry and whether it is self-signed; the TURN key ring's
// state (also used by `vytalctl doctor`).
CertificateStatus certificate_status(const std::string& label, const std::string& path, int64_t now_s);
KeyRingStatus key_ring_status(const std::string& path, int64_t now_s);
// Where to reach a service bound to `bind` from this machine (0.0.0.0 and
// empty: 127.0.0.1; "::": ::1).
std::string loopback_address(const std::string& bind);

JsonPtr status_to_json(const ApplianceStatus& status);
std::string status_to_text(const ApplianceStatus& status);

// The local time zone's name ("Europe/Berlin (CET)") and local midnight of
// the day holding `now_ms`.
std::string local_time_zone_name(int64_t now_ms);
int64_t local_midnight_ms(int64_t now_ms);

}  // namespace vytal
