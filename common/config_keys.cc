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
    {"TURN_SHARED_SECRET", "", "TURN REST API secret shared with the TURN server (coturn static-auth-secret)."},
    {"TURN_CREDENTIAL_TTL_SECONDS", "600", "Lifetime of minted TURN credentials, 60 to 86400."},
    {"WEBRTC_STUN_SERVERS", "", "Comma-separated stun: URLs handed to browsers."},
    {"WEBRTC_TURN_SERVERS", "", "Comma-separated turn:/turns: URLs handed to browsers with credentials."},
    {"WEBRTC_TURN_USERNAME", "", "Static TURN username, used only when TURN_SHARED_SECRET is empty."},
    {"WEBRTC_TURN_PASSWORD", "", "Static TURN password, used only when TURN_SHARED_SECRET is empty."},
    {"VYTAL_MAX_HEADER_BYTES", "8192", "Largest request line plus headers accepted (431 beyond)."},
    {"VYTAL_MAX_BODY_BYTES", "65536", "Largest request body accepted (413 beyond)."},
    {"VYTAL_MAX_CONNECTIONS", "19500", "Open client connections signald accepts in all."},
    {"VYTAL_MAX_CONNECTIONS_PER_IP", "2000", "Open client connections accepted from one address."},
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
     "Port of vytal-syncd's /metrics and /healthz (on VYTAL_BIND_ADDRESS); 0 picks one."},
};

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

}  // namespace vytal
