// signald's settings, read once from the configuration at start-up.
#pragma once

#include <string>
#include <vector>

#include "call_log/call_log_options.h"
#include "common/config.h"
#include "common/jwt.h"
#include "common/log.h"
#include "http/http_options.h"

namespace vytal {

struct IceSettings {
  std::vector<std::string> stun_urls;
  std::vector<std::string> turn_urls;
  std::string turn_secret;         // REST API credentials when set (or the key ring)
  std::string keyring_path;        // VYTAL_TURN_KEYRING_FILE
  std::string revoked_path;        // VYTAL_TURN_REVOKED_FILE
  std::string usage_socket;        // VYTAL_TURN_USAGE_SOCKET
  size_t max_revocations = 50000;  // VYTAL_TURN_MAX_REVOCATIONS
  std::string static_username;     // otherwise these, as the platform had them
  std::string static_password;
  int64_t ttl_s = 600;
};

struct SignalingSettings {
  int64_t reconnect_grace_s = 30;
  double message_rate = 50;
  double message_burst = 100;
  int64_t quality_sample_s = 10;
  int quality_samples_per_call = 2000;
  int max_participants = 6;
};

// What signald watches for /metrics beyond its own work (appliance_gauges.h).
struct MonitoringSettings {
  std::string data_dir;                     // VYTAL_DATA_DIR: the call log's file system
  std::vector<std::string> tls_cert_files;  // VYTAL_TLS_CERT_FILES plus VYTAL_TURN_CERT_FILE
  std::string turn_probe_host;              // where vytal-turnserver answers STUN
  int turn_probe_port = 0;                  // 0: no local TURN server to probe
  int64_t turn_total_quota = 0;             // VYTAL_TURN_TOTAL_QUOTA
};

// RFC 7518 3.2: an HS256 key is at least as long as the hash (256 bits).
inline constexpr size_t kMinJwtSecretBytes = 32;

// Per-subject limits (SubjectLimits); rates of 0 mean no limit.
struct SubjectLimitSettings {
  double creates_per_minute = 10;  // POST /webrtc/calls
  double create_burst = 20;
  double writes_per_minute = 60;  // joins, end-call, POST end / cancel / participants
  double write_burst = 30;
  double service_writes_per_minute = 0;  // service and admin, all writes; 0: not limited
  int max_sessions = 10;                 // WebSocket sessions per subject; 0: no cap
  // Refusals audited per subject (VYTAL_DENIED_AUDITS_PER_MINUTE), checked
  // before the audit write is queued; 0: every refusal audited.
  double denied_audits_per_minute = 20;
};

struct SignaldSettings {
  LogLevel log_level = LogLevel::info;
  HttpServerOptions http;
  CallLogOptions call_log;
  JwtOptions jwt;
  IceSettings ice;
  SignalingSettings signaling;
  MonitoringSettings monitoring;
  SubjectLimitSettings limits;
  std::vector<std::string> allowed_origins;
  // JWT_SECRET is shorter than kMinJwtSecretBytes (allowed without
  // VYTAL_REQUIRE_STRONG_JWT_SECRET): main warns at start.
  bool weak_jwt_secret = false;
};

// Throws ConfigError naming the key on the first bad value.
SignaldSettings read_signald_settings(const Config& config);

}  // namespace vytal
