#include "vytalctl/commands.h"

#include <cstdio>
#include <string>

#include "call_log/schema.h"
#include "common/atomic_file.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/jwt.h"
#include "common/key_ring.h"
#include "common/sqlite.h"
#include "common/turn_credentials.h"
#include "vytalctl/admin_commands.h"
#include "vytalctl/turn_config.h"

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
  if (auto old = read_key_ring(path, &error)) {
    ring.previous = old->current;
    ring.previous_until_s =
        now + (o.overlap >= 0 ? o.overlap : config.integer("VYTAL_TURN_ROTATION_OVERLAP_SECONDS", 0, 30 * 86400));
  }
  ring.current = base64url_encode(random_bytes(32));
  if (!write_key_ring(path, ring, &error)) {
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
  TurnCredential c = mint_turn_credential(secret, o.user, now,
                                          o.ttl > 0 ? o.ttl : config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400));
  std::printf("username=%s\npassword=%s\n", c.username.c_str(), c.credential.c_str());
  return 0;
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"dev-token", dev_token},   {"turn-credential", turn_credential},       {"turn-config", turn_config},
      {"migrate", migrate},       {"rotate-turn-secret", rotate_turn_secret}, {"admin", admin_command},
      {"status", status_command},
  };
  return kCommands;
}

}  // namespace vytal
