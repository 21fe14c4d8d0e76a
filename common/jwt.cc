#include "common/jwt.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "common/crypto.h"
#include "common/json.h"

namespace vytal {
namespace {

Error fail(const char* code, std::string message) { return Error{code, std::move(message)}; }

const char* alg_name(JwtAlgorithm a) {
  switch (a) {
    case JwtAlgorithm::hs256: return "HS256";
    case JwtAlgorithm::rs256: return "RS256";
    case JwtAlgorithm::es256: return "ES256";
  }
  return "?";
}

bool parse_role(std::string_view s, Role* out) {
  static const struct {
    const char* name;
    Role role;
  } kRoles[] = {
      {"patient", Role::patient}, {"provider", Role::provider}, {"admin", Role::admin}, {"service", Role::service}};
  for (const auto& r : kRoles) {
    if (s.size() == std::strlen(r.name) && strncasecmp(s.data(), r.name, s.size()) == 0) {
      *out = r.role;
      return true;
    }
  }
  return false;
}

bool aud_matches(const json_t* aud, const std::string& want) {
  if (json_is_string(aud)) return want == json_string_value(aud);
  if (json_is_array(aud)) {
    size_t i;
    const json_t* v;
    json_array_foreach(aud, i, v) if (json_is_string(v) && want == json_string_value(v)) return true;
  }
  return false;
}

// JWS ES256 carries r||s (32 bytes each, RFC 7518 section 3.4); OpenSSL wants DER.
std::string es256_to_der(std::string_view raw) {
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::patient: return "patient";
    case Role::provider: return "provider";
    case Role::admin: return "admin";
    case Role::service: return "service";
  }
  return "?";
}

Result<JwtAlgorithm> parse_jwt_algorithm(std::string_view name) {
  if (name == "HS256") return JwtAlgorithm::hs256;
  if (name == "RS256") return JwtAlgorithm::rs256;
  if (name == "ES256") return JwtAlgorithm::es256;
  return fail("config", "expected HS256, RS256 or ES256, got '" + std::string(name) + "'");
}

// Tokens that passed, by their exact text. A client sends the same token with
// every request until it expires, and checking it in full again (two base64
// and JSON decodes, and the signature) was a sixth of the event loop's time
// for each durable create. Direct-mapped: a token has one slot, a newer token
// takes it over; at most kSlots tokens of at most kMaxTokenBytes are kept.
// A token found here is still refused once expired; nbf needs no new look (a
// token valid before stays valid as time passes).
struct JwtVerifier::Verified {
  static constexpr size_t kSlots = 1024;
  static constexpr size_t kMaxTokenBytes = 1024;
  struct Slot {
    std::string token;
    JwtClaims claims;
  };
  std::mutex mu;
  std::vector<Slot> slots;  // kSlots once the first token passed

  static size_t slot_of(std::string_view token) { return std::hash<std::string_view>{}(token) % kSlots; }
  std::optional<JwtClaims> find(std::string_view token, int64_t now_s, int64_t leeway_s) {
    std::lock_guard lock(mu);
    if (slots.empty()) return std::nullopt;
    const Slot& slot = slots[slot_of(token)];
    // Constant time: the slot is chosen by an unkeyed hash, so a caller can
    // aim a token of its own at the slot of someone else's.
    if (!constant_time_equal(slot.token, token) || now_s >= slot.claims.exp + leeway_s) return std::nullopt;
    return slot.claims;
  }
  void add(std::string_view token, const JwtClaims& claims) {
    if (token.size() > kMaxTokenBytes) return;
    std::lock_guard lock(mu);
    slots.resize(kSlots);
    Slot& slot = slots[slot_of(token)];
    slot.token.assign(token);
    slot.claims = claims;
  }
};

Result<JwtVerifier> JwtVerifier::create(JwtOptions options) {
  JwtVerifier v;
  v.verified_ = std::make_shared<Verified>();
  if (options.algorithm == JwtAlgorithm::hs256) {
    if (options.secret.empty()) return fail("config", "JWT_SECRET: must not be empty with JWT_ALGORITHM=HS256");
  } else {
    if (options.public_key_pem.empty())
      return fail("config", "JWT_PUBLIC_KEY_FILE: a public key is required with JWT_ALGORITHM=" +
                                std::string(alg_name(options.algorithm)));
    BioPtr bio(BIO_new_mem_buf(options.public_key_pem.data(), static_cast<int>(options.public_key_pem.size())));
    v.key_.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!v.key_) return fail("config", "JWT_PUBLIC_KEY_FILE: not a PEM public key");
    int type = EVP_PKEY_get_base_id(v.key_.get());
    if (options.algorithm == JwtAlgorithm::rs256) {
      if (type != EVP_PKEY_RSA) return fail("config", "JWT_PUBLIC_KEY_FILE: RS256 needs an RSA key");
      if (EVP_PKEY_get_bits(v.key_.get()) < 2048)
        return fail("config", "JWT_PUBLIC_KEY_FILE: RSA keys shorter than 2048 bits are refused");
    } else {
      char group[64] = {0};
      size_t len = 0;
      if (type != EVP_PKEY_EC || !EVP_PKEY_get_utf8_string_param(v.key_.get(), "group", group, sizeof group, &len) ||
          std::strcmp(group, "prime256v1") != 0)
        return fail("config", "JWT_PUBLIC_KEY_FILE: ES256 needs an EC key on P-256");
    }
  }
  if (options.leeway_s < 0) options.leeway_s = 0;
  v.options_ = std::move(options);
  return v;
}

bool JwtVerifier::signature_ok(std::string_view input, std::string_view sig) const {
  if (options_.algorithm == JwtAlgorithm::hs256) return constant_time_equal(hmac_sha256(options_.secret, input), sig);
  std::string der;
  if (options_.algorithm == JwtAlgorithm::es256) {
    if (sig.size() != 64) return false;
    der = es256_to_der(sig);
    if (der.empty()) return false;
    sig = der;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

Result<JwtClaims> JwtVerifier::verify(std::string_view token, int64_t now_s) const {
  if (!verified_) return check(token, now_s);  // a moved-from verifier
  if (auto known = verified_->find(token, now_s, options_.leeway_s)) return std::move(*known);
  auto claims = check(token, now_s);
  if (claims) verified_->add(token, claims.value());
  return claims;
}

Result<JwtClaims> JwtVerifier::check(std::string_view token, int64_t now_s) const {
  if (token.size() > 8192) return fail("token_malformed", "token is too long");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return fail("token_malformed", "a JWT has three dot-separated parts");

  auto header_json = base64url_decode(token.substr(0, d1));
  if (!header_json) return fail("token_malformed", "header is not base64url");
  JsonPtr header = json_parse(*header_json, nullptr);
  if (!json_is_object(header.get())) return fail("token_malformed", "header is not a JSON object");
  auto alg = json_string_field(header.get(), "alg");
  // The pinned algorithm decides; the token's alg only has to agree (RFC 8725 section 3.1).
  if (!alg || *alg != alg_name(options_.algorithm))
    return fail("token_algorithm", std::string("token algorithm must be ") + alg_name(options_.algorithm));
  if (json_object_get(header.get(), "crit"))
    return fail("token_malformed", "critical header parameters are not supported");

  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!sig || sig->empty()) return fail("token_signature", "signature is missing or not base64url");
  if (!signature_ok(token.substr(0, d2), *sig)) return fail("token_signature", "signature does not verify");

  auto payload_json = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload_json) return fail("token_malformed", "payload is not base64url");
  JsonPtr payload = json_parse(*payload_json, nullptr);
  if (!json_is_object(payload.get())) return fail("token_malformed", "payload is not a JSON object");

  const json_t* exp = json_object_get(payload.get(), "exp");
  if (!json_is_number(exp)) return fail("token_claims", "token has no numeric exp claim");
  // Compared as doubles: an exp beyond int64 must not overflow a cast.
  double exp_d = json_number_value(exp);
  if (static_cast<double>(now_s) >= exp_d + static_cast<double>(options_.leeway_s))
    return fail("token_expired", "token has expired");
  auto exp_s = exp_d > 4e18 ? int64_t{4000000000000000000} : static_cast<int64_t>(exp_d);
  const json_t* nbf = json_object_get(payload.get(), "nbf");
  if (nbf) {
    if (!json_is_number(nbf)) return fail("token_claims", "nbf is not numeric");
    if (static_cast<double>(now_s + options_.leeway_s) < json_number_value(nbf))
      return fail("token_not_yet_valid", "token is not valid yet (nbf)");
  }
  if (!options_.audience.empty() && !aud_matches(json_object_get(payload.get(), "aud"), options_.audience))
    return fail("token_audience", "token audience does not match");
  if (!options_.issuer.empty()) {
    auto iss = json_string_field(payload.get(), "iss");
    if (!iss || *iss != options_.issuer) return fail("token_issuer", "token issuer does not match");
  }
  JwtClaims claims;
  auto sub = json_string_field(payload.get(), "sub");
  // The sub names a person in logs, the audit log, TURN usernames and the
  // revocations file (space-separated lines): printable ASCII, no space.
  if (!sub || sub->empty() || sub->size() > 128 ||
      !std::all_of(sub->begin(), sub->end(), [](char ch) { return ch > 0x20 && ch < 0x7f; }))
    return fail("token_claims", "token sub must be 1 to 128 printable characters without spaces");
  auto role = json_string_field(payload.get(), "role");
  if (!role || !parse_role(*role, &claims.role))
    return fail("token_claims", "token role must be patient, provider, admin or service");
  claims.sub = std::string(*sub);
  claims.exp = exp_s;
  return claims;
}

std::string jwt_sign_hs256(std::string_view secret, const json_t* claims) {
  std::string input = base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(json_dump(claims));
  return input + "." + base64url_encode(hmac_sha256(secret, input));
}

}  // namespace vytal
