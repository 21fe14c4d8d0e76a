#include "common/config.h"

namespace vytal {
namespace {

constexpr ConfigKey kKeys[] = {
    {"PORT", "3000", "TCP port signald listens on for HTTP and WebSocket."},
    {"VYTAL_BIND_ADDRESS", "127.0.0.1", "Address signald binds; nginx terminates TLS in front of it."},
    {"VYTAL_DATA_DIR", "/var/lib/vytalwatch", "Directory holding the call log (calls.db)."},
    {"LOG_LEVEL", "info", "debug, info, warn or error."},
    {"FRONTEND_URL", "", "Comma-separated origins allowed by CORS (and the WebSocket Origin check)."},
    {"JWT_ALGORITHM", "HS256", "Pinned JWT algorithm: HS256, RS256 or ES256. Tokens with another alg are refused."},
    {"JWT_SECRET", "", "HS256 shared secret (the platform's JWT_SECRET). Required when JWT_ALGORITHM=HS256."},
    {"JWT_PUBLIC_KEY_FILE", "", "PEM public key for RS256 (RSA) or ES256 (P-256). Required for those algorithms."},
    {"JWT_AUDIENCE", "", "When set, the token's aud must contain this value."},
    {"JWT_ISSUER", "", "When set, the token's iss must equal this value."},
    {"JWT_LEEWAY_SECONDS", "30", "Clock skew tolerated on exp and nbf, 0 to 300."},
    {"VYTAL_REQUIRE_STRONG_JWT_SECRET", "false",
     "Refuse to start when JWT_SECRET (HS256) is shorter than 32 bytes; when false such a secret only warns. The "
     "package's appliance.conf sets it to true."},
    {"TURN_SHARED_SECRET", "", "TURN REST API secret shared with the TURN server (coturn static-auth-secret)."},
    {"TURN_CREDENTIAL_TTL_SECONDS", "600", "Lifetime of minted TURN credentials, 60 to 86400."},
    {"VYTAL_TURN_KEYRING_FILE", "",
     "TURN key ring (current and previous secret, vytalctl rotate-turn-secret); when set it replaces "
     "TURN_SHARED_SECRET and is re-read when it changes."},
    {"VYTAL_TURN_ROTATION_OVERLAP_SECONDS", "3600",
     "How long vytalctl rotate-turn-secret keeps accepting the previous secret."},
    {"VYTAL_TURN_REVOKED_FILE", "",
     "File signald writes revoked TURN users to (read by the TURN plugin); empty: no revocation."},
    {"VYTAL_TURN_MAX_REVOCATIONS", "50000",
     "Entries the revocations file holds at most; beyond, those expiring first are dropped and counted "
     "(turn_revocations_over_cap)."},
    {"VYTAL_TURN_LISTEN_IPS", "0.0.0.0",
     "Addresses vytal-turnserver listens on (vytalctl turn-config); 0.0.0.0 is IPv4 only: add :: for IPv6 clients."},
    {"VYTAL_TURN_PORT", "3478", "TURN/STUN port (UDP and TCP)."},
    {"VYTAL_TURN_TLS_PORT", "5349", "TURN over TLS/DTLS port (nginx routes TCP 443 to it by SNI)."},
    {"VYTAL_TURN_RELAY_IPS", "",
     "The appliance's relay address(es); the only private addresses peers may use. Required by turn-config."},
    {"VYTAL_TURN_EXTERNAL_IP", "",
     "Public address announced for the relay when the appliance is behind NAT (external-ip), for the relay address "
     "of its family."},
    {"VYTAL_TURN_REALM", "vytalwatch", "TURN realm."},
    {"VYTAL_TURN_MIN_PORT", "49152", "Lowest relay port."},
    {"VYTAL_TURN_MAX_PORT", "65535", "Highest relay port."},
    {"VYTAL_TURN_ALLOWED_PEER_RANGES", "",
     "Comma-separated address ranges (a-b) an admin allows as peers despite the denied defaults."},
    {"VYTAL_TURN_USER_QUOTA", "12", "Allocations one TURN user may hold at once."},
    {"VYTAL_TURN_TOTAL_QUOTA", "4000", "Allocations the TURN server holds at once."},
    {"VYTAL_TURN_CERT_FILE", "", "TLS certificate chain for TURN over TLS; empty disables TLS listeners."},
    {"VYTAL_TURN_KEY_FILE", "", "TLS private key for TURN over TLS."},
    {"VYTAL_TLS_CERT_FILES", "",
     "Comma-separated certificate files (PEM) whose expiry signald exports in /metrics "
     "(vytal_tls_certificate_expiry_timestamp_seconds); VYTAL_TURN_CERT_FILE is always watched too."},
    {"VYTAL_TURN_STATE_DIR", "",
     "Directory for vytal-turnserver's own files (pid file, its unused SQLite user database); empty: "
     "VYTAL_DATA_DIR."},
    {"VYTAL_TURN_PLUGIN_PATH", "/usr/lib/vytalwatch/libvytal_turn.so", "The plugin vytal-turnserver loads."},
    {"VYTAL_TURN_USAGE_SOCKET", "",
     "Unix datagram socket signald receives TURN allocation and usage reports on; empty: none."},
    {"WEBRTC_STUN_SERVERS", "", "Comma-separated stun: URLs handed to browsers."},
    {"WEBRTC_TURN_SERVERS", "", "Comma-separated turn:/turns: URLs handed to browsers with credentials."},
    {"WEBRTC_TURN_USERNAME", "", "Static TURN username, used only when TURN_SHARED_SECRET is empty."},
    {"WEBRTC_TURN_PASSWORD", "", "Static TURN password, used only when TURN_SHARED_SECRET is empty."},
    {"VYTAL_MAX_HEADER_BYTES", "8192", "Largest request line plus headers accepted (431 beyond)."},
    {"VYTAL_MAX_BODY_BYTES", "65536",
     "Largest request body accepted (413 beyond). A request's bytes on the wire, chunked framing included, are refused "
     "(413) past twice this and VYTAL_MAX_HEADER_BYTES together."},
    {"VYTAL_MAX_CONNECTIONS", "19500", "Open client connections signald accepts in all."},
    {"VYTAL_MAX_CONNECTIONS_PER_IP", "2000", "Open client connections accepted from one address."},
    {"VYTAL_TRUSTED_PROXIES", "",
     "Comma-separated proxy addresses (nginx: 127.0.0.1, ::1) whose X-Real-IP header names the client for the "
     "audit log; empty: the TCP peer is the client."},
    {"VYTAL_REQUEST_TIMEOUT_SECONDS", "10", "Time a client has to send one complete request."},
    {"VYTAL_KEEPALIVE_TIMEOUT_SECONDS", "75", "Idle time before a keep-alive connection is closed."},
    {"VYTAL_WRITE_TIMEOUT_SECONDS", "30", "Time a client has to read a response before it is dropped."},
    {"VYTAL_GROUP_COMMIT", "true", "Commit the writes of concurrent requests in one transaction."},
    {"VYTAL_GROUP_COMMIT_MAX_BATCH", "512", "Most writes committed in one transaction."},
    {"VYTAL_MAX_PENDING_WRITES", "20000", "Writes waiting for the call log before requests get 503."},
    {"VYTAL_MAX_PARTICIPANTS", "6", "Participants per call, patient and provider included."},
    {"VYTAL_WS_MAX_MESSAGE_BYTES", "65536",
     "Largest WebSocket message accepted (close 1009 beyond), checked per frame header."},
    {"VYTAL_WS_PING_INTERVAL_SECONDS", "20",
     "Idle time before signald pings a WebSocket client; no answer within half of it closes."},
    {"VYTAL_WS_MESSAGE_RATE", "50", "Signaling messages per second allowed per connection (token bucket rate)."},
    {"VYTAL_WS_MESSAGE_BURST", "100", "Signaling messages a connection may send at once above the rate."},
    {"VYTAL_WS_MAX_TOTAL_OUTPUT_BYTES", "536870912",
     "Unsent WebSocket bytes signald holds for all clients together; over it the client with the most waiting "
     "is dropped (counted as ws_output_memory)."},
    {"VYTAL_SUBJECT_CREATES_PER_MINUTE", "10",
     "Calls one subject (JWT sub, patient or provider) may create per minute (token bucket rate; 429 "
     "rate_limited with Retry-After beyond); 0: no limit."},
    {"VYTAL_SUBJECT_CREATE_BURST", "20", "Calls one subject may create at once above that rate."},
    {"VYTAL_SUBJECT_WRITES_PER_MINUTE", "60",
     "Other writes (joins, end-call, end, cancel, invitations) one patient or provider subject may make per "
     "minute; 0: no limit."},
    {"VYTAL_SUBJECT_WRITE_BURST", "30", "Other writes one subject may make at once above that rate."},
    {"VYTAL_SERVICE_WRITES_PER_MINUTE", "0",
     "Writes per minute for each service or admin subject (burst: the same number); 0: not rate limited."},
    {"VYTAL_MAX_SESSIONS_PER_SUBJECT", "10",
     "WebSocket sessions one patient or provider subject may hold open (429 too_many_sessions beyond); 0: no "
     "cap."},
    {"VYTAL_MAX_OPEN_CALLS_PER_PATIENT", "20",
     "Scheduled or active calls one patient may have; creates by patient or provider tokens beyond it get 429 "
     "too_many_open_calls; 0: no cap."},
    {"VYTAL_DENIED_AUDITS_PER_MINUTE", "20",
     "Audit rows for refused actions per subject and minute; the excess is counted (audit_suppressed), not "
     "written; 0: every refusal is audited."},
    {"VYTAL_RECONNECT_GRACE_SECONDS", "30", "Time a dropped participant keeps its slot in the call."},
    {"VYTAL_QUALITY_SAMPLE_SECONDS", "10", "At most one quality report per participant is recorded in this interval."},
    {"VYTAL_QUALITY_SAMPLES_PER_CALL", "2000", "Quality reports recorded per call at most."},
    {"DATABASE_HOST", "localhost", "Central PostgreSQL host (vytal-syncd)."},
    {"DATABASE_PORT", "5432", "Central PostgreSQL port."},
    {"DATABASE_NAME", "vytalwatch", "Central PostgreSQL database."},
    {"DATABASE_USER", "vytalwatch", "Central PostgreSQL user."},
    {"DATABASE_PASSWORD", "", "Central PostgreSQL password (never logged)."},
    {"DATABASE_SSLMODE", "require",
     "libpq sslmode: disable, require, verify-ca or verify-full (recommended, with DATABASE_SSLROOTCERT)."},
    {"DATABASE_SSLROOTCERT", "", "CA certificate file that signs the central PostgreSQL's certificate."},
    {"VYTAL_SITE_ID", "", "This appliance's site id, written on every row it syncs. Required by vytal-syncd."},
    {"VYTAL_SYNC_BATCH_ROWS", "10000", "Changes pushed per PostgreSQL transaction."},
    {"VYTAL_SYNC_METHOD", "copy", "copy (COPY into a staging table, then one upsert) or insert (multi-row upserts)."},
    {"VYTAL_SYNC_POLL_MS", "200", "How often vytal-syncd looks for new changes when it has caught up."},
    {"VYTAL_SYNC_BACKOFF_MAX_SECONDS", "30", "Longest wait between attempts while PostgreSQL is unreachable."},
    {"VYTAL_SYNC_RETENTION_DAYS", "0", "Synced rows older than this are pruned from the call log; 0 keeps them."},
    {"VYTAL_SYNC_METRICS_PORT", "9102",
     "Port of vytal-syncd's /metrics, /healthz and /readyz (on VYTAL_BIND_ADDRESS); 0 picks one."},
    {"VYTAL_SIGNALD_CONTROL_SOCKET", "/run/vytalwatch/signald.sock",
     "Unix socket of signald's local channel (internal routes such as /internal/audit), mode 0660, accepted only "
     "from signald's own user or root; empty: none."},
    {"VYTAL_HTTPS_CERT_FILE", "",
     "The HTTPS certificate nginx serves (the admin overview and vytalctl status report its expiry)."},
    {"VYTAL_HTTPS_NAMES", "",
     "Comma-separated DNS names browsers and the platform reach the appliance by over HTTPS; vytalctl doctor checks "
     "that VYTAL_HTTPS_CERT_FILE covers them (the TURN name, from the turns: URLs, is checked against "
     "VYTAL_TURN_CERT_FILE)."},
    {"VYTAL_ADMIN_BIND", "127.0.0.1",
     "Address vytal-admin listens on (loopback behind nginx, or a management interface)."},
    {"VYTAL_ADMIN_PORT", "3001", "TCP port of vytal-admin; 0 picks one."},
    {"VYTAL_ADMIN_IDLE_TIMEOUT_SECONDS", "900",
     "An admin session unused this long ends (HIPAA automatic logoff), 1 to 3600."},
    {"VYTAL_ADMIN_ABSOLUTE_TIMEOUT_SECONDS", "28800", "An admin session ends this long after login, whatever its use."},
    {"VYTAL_ADMIN_ALLOWED_ORIGINS", "",
     "Comma-separated origins (https://host) whose POSTs vytal-admin accepts besides the request's own origin."},
    {"VYTAL_SETTINGS_FILE", "/etc/vytalwatch/admin-settings.conf",
     "The settings the admin page changes, written by vytalctl apply-requests (vytal-apply.service); every unit "
     "reads it after site.conf."},
    {"VYTAL_APPLY_SPOOL_DIR", "/var/lib/vytalwatch/apply",
     "Where vytal-admin leaves requests (rotate the TURN secret, apply settings) for vytal-apply.service and reads "
     "their results."},
};

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

}  // namespace vytal
