#include "vytalctl/commands.h"

#include <cstdio>
#include <string>

#include "call_log/schema.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/json.h"
#include "common/jwt.h"
#include "common/key_ring.h"
#include "common/sqlite.h"
#include "common/turn_credentials.h"
#include "turn_policy/turn_server_config.h"
#include "vytalctl/admin_commands.h"
#include "vytalctl/apply_commands.h"
#include "vytalctl/backup.h"
#include "vytalctl/call_actions.h"
#include "vytalctl/call_commands.h"
#include "vytalctl/doctor.h"
#include "vytalctl/sync_status.h"

namespace vytal {
namespace {

int dev_token(const Config& config, const CommandOptions& o, int64_t now) {
  if (o.sub.empty() || o.role.empty()) return kUsageError;
  if (!config.is_set("JWT_SECRET")) {
    std::fputs("vytalctl: JWT_SECRET: not set\n", stderr);
    return 2;
  }
  JsonPtr claims(json_object());
  json_put(claims.get(), "sub", json_str(o.sub));
  json_put(claims.get(), "role", json_str(o.role));
  json_put(claims.get(), "iat", json_integer(now));
  json_put(claims.get(), "exp", json_integer(now + (o.ttl > 0 ? o.ttl : 3600)));
  if (config.is_set("JWT_AUDIENCE")) json_put(claims.get(), "aud", json_str(config.str("JWT_AUDIENCE")));
  if (config.is_set("JWT_ISSUER")) json_put(claims.get(), "iss", json_str(config.str("JWT_ISSUER")));
  std::printf("%s\n", jwt_sign_hs256(config.str("JWT_SECRET"), claims.get()).c_str());
  return 0;
}

int turn_config(const Config& config, const CommandOptions& o, int64_t) {
  std::string text = turn_server_config(config);
  if (o.output.empty()) {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::string error;
  if (!write_file_atomically(o.output, text, 0640, &error)) {
    std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

int migrate(const Config& config, const CommandOptions&, int64_t now) {
  std::string path = read_call_log_path(config);
  auto db = sqlite_open(path, SqliteOpenOptions{});
  if (!db) {
    std::fprintf(stderr, "vytalctl: call log %s: %s\n", path.c_str(), db.error().message.c_str());
    return 1;
  }
  auto applied = apply_migrations(db.value().get(), call_log_migrations(), now * 1000);
  if (!applied) {
    std::fprintf(stderr, "vytalctl: call log %s: %s\n", path.c_str(), applied.error().message.c_str());
    return 1;
  }
  std::printf("call log %s: schema version %d (%d migration(s) applied)\n", path.c_str(),
              schema_version(db.value().get()), applied.value());
  return 0;
}

int rotate_turn_secret(const Config& config, const CommandOptions& o, int64_t now) {
  const std::string& path = config.str("VYTAL_TURN_KEYRING_FILE");
  if (path.empty()) {
    std::fputs("vytalctl: VYTAL_TURN_KEYRING_FILE: not set\n", stderr);
    return 2;
  }
  std::string error;
  KeyRing ring;
  int64_t overlap = o.overlap >= 0 ? o.overlap : config.integer("VYTAL_TURN_ROTATION_OVERLAP_SECONDS", 0, 30 * 86400);
  if (!rotate_key_ring_file(path, overlap, now, &ring, &error)) {
    std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
    return 1;
  }
  std::printf("rotated %s: the previous secret is accepted until %lld\n", path.c_str(),
              static_cast<long long>(ring.previous_until_s));
  return 0;
}

int turn_credential(const Config& config, const CommandOptions& o, int64_t now) {
  if (o.user.empty()) return kUsageError;
  std::string secret = config.str("TURN_SHARED_SECRET");
  if (config.is_set("VYTAL_TURN_KEYRING_FILE")) {
    std::string error;
    auto ring = read_key_ring(config.str("VYTAL_TURN_KEYRING_FILE"), &error);
    if (!ring) {
      std::fprintf(stderr, "vytalctl: VYTAL_TURN_KEYRING_FILE: %s\n", error.c_str());
      return 2;
    }
    secret = ring->current;
  }
  if (secret.empty()) {
    std::fputs("vytalctl: TURN_SHARED_SECRET: not set\n", stderr);
    return 2;
  }
  int64_t max_ttl = config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400) + 60;
  if (o.ttl > max_ttl) {  // vytal-turnserver's plugin refuses longer-lived credentials (max_ttl)
    std::fprintf(stderr, "vytalctl: --ttl %ld is longer than the TURN server accepts (%lld s)\n", o.ttl,
                 static_cast<long long>(max_ttl));
    return 2;
  }
  TurnCredential c = mint_turn_credential(secret, o.user, now,
                                          o.ttl > 0 ? o.ttl : config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400));
  std::printf("username=%s\npassword=%s\n", c.username.c_str(), c.credential.c_str());
  return 0;
}

int doctor(const Config& config, const CommandOptions& o, int64_t now) {
  DoctorOptions d;
  d.config_paths = o.config_paths;
  if (!o.turn_config.empty()) d.turn_config_path = o.turn_config;
  if (!o.turn_user.empty()) d.turn_user = o.turn_user;
  auto checks = run_doctor(config, d, now);
  if (o.json)
    std::printf("%s\n", json_dump(doctor_to_json(checks).get()).c_str());
  else
    std::fputs(doctor_to_text(checks).c_str(), stdout);
  return doctor_exit_status(checks);
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"dev-token", dev_token, "--sub ID --role patient|provider|admin|service [--ttl SECONDS]", "--sub --role --ttl",
       0, "print an HS256 JWT signed with JWT_SECRET (development and testing)"},
      {"turn-credential", turn_credential, "--user ID [--ttl SECONDS]", "--user --ttl", 0,
       "print a TURN REST username and password signed with the current TURN secret"},
      {"turn-config", turn_config, "[--output FILE]", "--output", 0,
       "print (or write to FILE, mode 0640) vytal-turnserver's configuration, generated with safe relay\n"
       "defaults"},
      {"migrate", migrate, "", "", 0,
       "create the call log in VYTAL_DATA_DIR or bring its schema up to date; print the schema version"},
      {"rotate-turn-secret", rotate_turn_secret, "[--overlap SECONDS]", "--overlap", 0,
       "make a new current secret in VYTAL_TURN_KEYRING_FILE (creating it if needed); the old one is\n"
       "still accepted for the overlap (VYTAL_TURN_ROTATION_OVERLAP_SECONDS), so calls in progress go on.\n"
       "signald and the TURN plugin pick it up within a second, without a restart."},
      {"apply-requests", apply_requests, "[--systemctl PATH]", "--systemctl", 0,
       "carry out the admin page's requests waiting in VYTAL_APPLY_SPOOL_DIR (vytal-apply.service runs it):\n"
       "rotate the TURN secret, or validate and write the settings to VYTAL_SETTINGS_FILE and, when asked,\n"
       "restart the services that read them; each result goes to results/ for the page and its audit log.\n"
       "Give it the units' --config files, VYTAL_SETTINGS_FILE among them"},
      {"backup", backup, "DIR", "", 1,
       "copy what a replacement appliance needs into DIR (new or empty; files 0600) while the services run:\n"
       "consistent, checked snapshots of the call log and admin.db, the --config files, the admin page's\n"
       "settings, the TURN key ring, revocation list, certificate and key; DIR/MANIFEST\n"
       "lists their SHA-256 (sha256sum -c MANIFEST). Give it the units' --config files"},
      {"calls", list_calls, "[--active] [--limit N]", "--active --limit", 0,
       "list the newest calls in the call log (read-only), or only those in progress; N defaults to 20"},
      {"call show", show_call, "ID", "", 1,
       "show one call from the call log (read-only): its participants and their time in the call, the\n"
       "timeline, quality reports and TURN relay usage"},
      {"call end", end_call, "ID --reason TEXT", "--reason", 1,
       "end a call in progress for everyone in it, through signald's local channel\n"
       "(VYTAL_SIGNALD_CONTROL_SOCKET); audited with the shell user as the actor and TEXT as the reason"},
      {"sync status", sync_status, "", "", 0,
       "show vytal-syncd's progress (its /metrics on VYTAL_BIND_ADDRESS:VYTAL_SYNC_METRICS_PORT) and the\n"
       "call log's own record of it; exit status 1 when syncd does not answer, is not connected to\n"
       "PostgreSQL, or has parked rows"},
      {"admin", admin_command,
       "add NAME --role viewer|operator|admin | passwd NAME | disable NAME | list | totp enable|disable NAME",
       "--role --password-stdin", -1,
       "manage the admin page's accounts (passwords read from the terminal, or from standard input with\n"
       "--password-stdin; totp enable prints the otpauth URI and one-time recovery codes)"},
      {"status", status_command, "[--json]", "--json", 0,
       "the appliance's state, as the admin page's overview shows it: services, calls, sync, TURN, certificates,\n"
       "clock; exit status 1 when something needs attention"},
      {"doctor", doctor, "[--json] [--turn-config FILE] [--turn-user NAME]", "--json --turn-config --turn-user", 0,
       "check the configured appliance end to end and say, per check, OK, WARN or FAIL with what to fix: the\n"
       "configuration files against vytal-turnserver's generated one (FILE, default\n"
       "/run/vytalwatch/vytal-turnserver.conf), the secrets' place, the TURN URLs; the ports of signald, syncd,\n"
       "TURN (UDP, TCP, TLS), nginx (443) and vytal-admin; the relay address; the certificates (names in\n"
       "VYTAL_HTTPS_NAMES and the turns: URLs, expiry within 14 days, key); the key ring, readable by the TURN\n"
       "server's user (NAME, default vytalwatch); the central PostgreSQL over TLS; the clock; the private\n"
       "files' permissions; a real TURN allocation with a fresh credential. Give it the units' --config files.\n"
       "Exit status: 0 when no check failed (WARN alone: 0, read the WARN lines), 1 when any check FAILed."},
  };
  return kCommands;
}

}  // namespace vytal
