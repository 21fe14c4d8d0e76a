// JwtVerifier::verify (common/jwt.h) under the three pinned algorithms, with
// keys made at start-up and tokens signed here with OpenSSL directly. The
// first input byte picks what the rest is:
//
//   0 (any token)  the rest is a token, verified by HS256, RS256 and ES256
//                  verifiers: none may accept it (the fuzzer cannot sign);
//   1 (signed)     "<header JSON>\n<payload JSON>" (the second byte picks the
//                  algorithm): signed properly, then verified by all three.
//                  Only the matching one may accept it, and only when the
//                  claims are acceptable by a reading of our own (exp, nbf,
//                  aud, iss, sub, role); the returned claims are the token's;
//   2 (mutated)    "<payload JSON>\n<edits>" (the second byte picks the
//                  algorithm): a token signed properly, then edited byte by
//                  byte (each edit: position, operation, byte). An edited
//                  token that differs from the original must never verify,
//                  but for the one twin ECDSA allows, (r, n - s), which is
//                  recognised precisely.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <strings.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/json.h"
#include "common/jwt.h"

namespace vytal {
namespace {

constexpr int64_t kNow = 1700000000;
constexpr int64_t kLeeway = 30;
constexpr char kSecret[] = "fuzzing-secret-0123456789abcdef0123";
constexpr char kAudience[] = "vytal-signald";
constexpr char kIssuer[] = "https://auth.example";
constexpr JwtAlgorithm kAlgorithms[] = {JwtAlgorithm::hs256, JwtAlgorithm::rs256, JwtAlgorithm::es256};
constexpr const char* kNames[] = {"HS256", "RS256", "ES256"};

[[noreturn]] void fail(const std::string& why, std::string_view token) {
  std::fprintf(stderr, "jwt_fuzz: %s\n  token: %.*s\n", why.c_str(), static_cast<int>(token.size()), token.data());
  std::abort();
}

std::string public_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

struct Keys {
  EvpPkeyPtr rsa{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})};
  EvpPkeyPtr ec{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  std::optional<JwtVerifier> verifiers[3];

  Keys() {
    if (!rsa || !ec) std::abort();
    for (int i = 0; i < 3; ++i) {
      JwtOptions o;
      o.algorithm = kAlgorithms[i];
      o.secret = kSecret;
      if (i == 1) o.public_key_pem = public_pem(rsa.get());
      if (i == 2) o.public_key_pem = public_pem(ec.get());
      o.audience = kAudience;
      o.issuer = kIssuer;
      o.leeway_s = kLeeway;
      auto v = JwtVerifier::create(o);
      if (!v) std::abort();
      verifiers[i].emplace(std::move(v.value()));
    }
  }
};
Keys* keys = nullptr;

std::string digest_sign(EVP_PKEY* key, std::string_view input) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    std::abort();
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    std::abort();
  sig.resize(len);
  return sig;
}

// ES256 carries r||s, 32 bytes each (RFC 7518 section 3.4); OpenSSL signs DER.
std::string der_to_raw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) std::abort();
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  return raw;
}

std::string sign(int alg, std::string_view header_json, std::string_view payload_json) {
  std::string input = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  std::string sig = alg == 0   ? hmac_sha256(kSecret, input)
                    : alg == 1 ? digest_sign(keys->rsa.get(), input)
                               : der_to_raw(digest_sign(keys->ec.get(), input));
  return input + "." + base64url_encode(sig);
}

// ECDSA's twin: the same r with s replaced by n - s verifies too.
bool is_ecdsa_twin(std::string_view original, std::string_view edited) {
  size_t a = original.rfind('.'), b = edited.rfind('.');
  if (a == std::string_view::npos || b == std::string_view::npos || original.substr(0, a) != edited.substr(0, b))
    return false;
  auto s1 = base64url_decode(original.substr(a + 1)), s2 = base64url_decode(edited.substr(b + 1));
  if (!s1 || !s2 || s1->size() != 64 || s2->size() != 64 || s1->substr(0, 32) != s2->substr(0, 32)) return false;
  BIGNUM* n = BN_new();
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(s1->data()) + 32, 32, nullptr);
  BIGNUM* t = BN_bin2bn(reinterpret_cast<const unsigned char*>(s2->data()) + 32, 32, nullptr);
  BIGNUM* sum = BN_new();
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  bool twin = EC_GROUP_get_order(group, n, nullptr) == 1 && BN_add(sum, s, t) == 1 && BN_cmp(sum, n) == 0;
  EC_GROUP_free(group);
  BN_free(n);
  BN_free(s);
  BN_free(t);
  BN_free(sum);
  return twin;
}

// Whether the claims are acceptable at kNow, read independently of jwt.cc.
bool claims_acceptable(std::string_view payload_json, std::string* sub, std::string* why) {
  JsonPtr p = json_parse(payload_json, nullptr);
  if (!json_is_object(p.get())) return *why = "payload", false;
  const json_t* exp = json_object_get(p.get(), "exp");
  if (!json_is_number(exp) || !(json_number_value(exp) + kLeeway > static_cast<double>(kNow)))
    return *why = "exp", false;
  const json_t* nbf = json_object_get(p.get(), "nbf");
  if (nbf && (!json_is_number(nbf) || json_number_value(nbf) > static_cast<double>(kNow + kLeeway)))
    return *why = "nbf", false;
  const json_t* aud = json_object_get(p.get(), "aud");
  bool aud_ok = json_is_string(aud) && std::string_view(json_string_value(aud)) == kAudience;
  for (size_t i = 0; json_is_array(aud) && i < json_array_size(aud); ++i) {
    const json_t* a = json_array_get(aud, i);
    aud_ok = aud_ok || (json_is_string(a) && std::string_view(json_string_value(a)) == kAudience);
  }
  if (!aud_ok) return *why = "aud", false;
  const json_t* iss = json_object_get(p.get(), "iss");
  if (!json_is_string(iss) || std::string_view(json_string_value(iss), json_string_length(iss)) != kIssuer)
    return *why = "iss", false;
  const json_t* s = json_object_get(p.get(), "sub");
  if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 128) return *why = "sub", false;
  // It names a person in logs and TURN usernames: visible ASCII only, no spaces.
  for (size_t i = 0; i < json_string_length(s); ++i)
    if (json_string_value(s)[i] <= 0x20 || json_string_value(s)[i] >= 0x7f) return *why = "sub", false;
  const json_t* role = json_object_get(p.get(), "role");
  std::string_view r = json_is_string(role) ? std::string_view(json_string_value(role), json_string_length(role)) : "";
  bool role_ok = false;
  for (const char* name : {"patient", "provider", "admin", "service"})
    role_ok = role_ok || (r.size() == std::strlen(name) && strncasecmp(r.data(), name, r.size()) == 0);
  if (!role_ok) return *why = "role", false;
  *sub = std::string(json_string_value(s), json_string_length(s));
  return true;
}

void any_token(std::string_view token) {
  for (int i = 0; i < 3; ++i)
    if (keys->verifiers[i]->verify(token, kNow))
      fail(std::string(kNames[i]) + " accepted a token nobody signed", token);
}

void signed_token(int alg, std::string_view text) {
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) return;
  std::string_view header = text.substr(0, nl), payload = text.substr(nl + 1);
  std::string token = sign(alg, header, payload);
  JsonPtr h = json_parse(header, nullptr);
  auto header_alg = json_is_object(h.get()) ? json_string_field(h.get(), "alg") : std::nullopt;
  bool header_ok = header_alg && *header_alg == kNames[alg] && !json_object_get(h.get(), "crit");
  std::string sub, why;
  bool claims_ok = claims_acceptable(payload, &sub, &why);
  for (int i = 0; i < 3; ++i) {
    auto r = keys->verifiers[i]->verify(token, kNow);
    if (i != alg) {
      if (r) fail(std::string(kNames[i]) + " accepted a token signed with " + kNames[alg], token);
      continue;
    }
    if (token.size() > 8192) continue;  // refused as too long; nothing more to compare
    if (r && !header_ok) fail("accepted a header that does not name the pinned algorithm", token);
    if (r && !claims_ok) fail("accepted claims that are not acceptable (" + why + ")", token);
    if (!r && header_ok && claims_ok) fail("refused a good token: " + r.error().code, token);
    if (!r && header_ok && r.error().code == "token_signature") fail("a proper signature did not verify", token);
    if (r && r.value().sub != sub) fail("returned claims differ from the token's", token);
  }
}

void mutated_token(int alg, std::string_view text) {
  size_t nl = text.find('\n');
  std::string_view payload = text.substr(0, nl);
  std::string_view edits = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  std::string header = std::string("{\"alg\":\"") + kNames[alg] + "\",\"typ\":\"JWT\"}";
  std::string original = sign(alg, header, payload);
  std::string edited = original;
  for (size_t i = 0; i + 4 <= edits.size(); i += 4) {
    size_t pos = ((static_cast<uint8_t>(edits[i]) << 8) | static_cast<uint8_t>(edits[i + 1])) % (edited.size() + 1);
    char byte = edits[i + 3];
    switch (static_cast<uint8_t>(edits[i + 2]) % 4) {
      case 0:
        if (pos < edited.size()) edited[pos] = byte;
        break;
      case 1: edited.insert(pos, 1, byte); break;
      case 2:
        if (pos < edited.size()) edited.erase(pos, 1);
        break;
      case 3:
        if (pos < edited.size()) edited[pos] ^= static_cast<char>(1 << (static_cast<uint8_t>(byte) % 8));
        break;
    }
  }
  if (edited == original) return;
  if (keys->verifiers[alg]->verify(edited, kNow) && !(alg == 2 && is_ecdsa_twin(original, edited)))
    fail("an edited token verified\n  original: " + original, edited);
}

}  // namespace
}  // namespace vytal

using namespace vytal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!keys) keys = new Keys();
  if (size < 2) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  int alg = data[1] % 3;
  switch (data[0] % 3) {
    case 0: any_token(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)); break;
    case 1: signed_token(alg, rest); break;
    case 2: mutated_token(alg, rest); break;
  }
  return 0;
}
