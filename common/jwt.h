// JWT verification with strict checks of our own on OpenSSL: the algorithm is
// pinned by configuration and compared before any signature work, so neither
// "alg":"none" nor an HS256 token keyed with an RSA public key can pass.
// A JwtVerifier's checks are fixed once created; verify() is safe from any
// thread. It remembers the last tokens that passed (see Verified in jwt.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/handles.h"
#include "common/result.h"

namespace vytal {

enum class JwtAlgorithm { hs256, rs256, es256 };
enum class Role : uint8_t { patient, provider, admin, service };

const char* role_name(Role role);
Result<JwtAlgorithm> parse_jwt_algorithm(std::string_view name);

struct JwtClaims {
  std::string sub;
  Role role = Role::patient;
  int64_t exp = 0;
};

struct JwtOptions {
  JwtAlgorithm algorithm = JwtAlgorithm::hs256;
  std::string secret;          // HS256
  std::string public_key_pem;  // RS256 / ES256
  std::string audience;        // checked when not empty
  std::string issuer;          // checked when not empty
  int64_t leeway_s = 30;
};

class JwtVerifier {
 public:
  // Fails on an empty secret, an unreadable key, or a key of the wrong type
  // for the pinned algorithm (an RSA key for ES256, a short RSA key).
  static Result<JwtVerifier> create(JwtOptions options);

  // Error codes: token_malformed, token_algorithm, token_signature,
  // token_expired, token_not_yet_valid, token_audience, token_issuer,
  // token_claims.
  Result<JwtClaims> verify(std::string_view token, int64_t now_s) const;

 private:
  struct Verified;
  JwtVerifier() = default;
  Result<JwtClaims> check(std::string_view token, int64_t now_s) const;
  bool signature_ok(std::string_view signing_input, std::string_view signature) const;

  JwtOptions options_;
  EvpPkeyPtr key_;
  std::shared_ptr<Verified> verified_;  // shared by copies: they check the same way
};

// Signs claims with HS256: for development tokens (vytalctl) and tests.
std::string jwt_sign_hs256(std::string_view secret, const json_t* claims);

}  // namespace vytal
