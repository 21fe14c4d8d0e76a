#include "common/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include <string>

#include "common/crypto.h"
#include "common/json.h"

// Tokens are signed here with OpenSSL directly, not with the code under test,
// so a verifier bug cannot be hidden by a matching signer bug.

namespace vytal {
namespace {

constexpr int64_t kNow = 1700000000;  // the verifier's "now" in every case
constexpr const char* kSecret = "correct horse battery staple";
constexpr const char* kAudience = "vytal-signald";
constexpr const char* kIssuer = "https://auth.vytal.example";

EvpPkeyPtr generate_rsa(size_t bits) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  if (!key) std::abort();
  return key;
}

EvpPkeyPtr generate_ec(const char* curve) {
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  if (!key) std::abort();
  return key;
}

std::string public_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) std::abort();
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

struct TestKeys {
  EvpPkeyPtr rsa = generate_rsa(2048);
  EvpPkeyPtr rsa1024 = generate_rsa(1024);
  EvpPkeyPtr p256 = generate_ec("P-256");
  EvpPkeyPtr p384 = generate_ec("P-384");
  std::string rsa_pem = public_pem(rsa.get());
  std::string rsa1024_pem = public_pem(rsa1024.get());
  std::string p256_pem = public_pem(p256.get());
  std::string p384_pem = public_pem(p384.get());
};

// Generated once, at first use, for the whole run.
const TestKeys& keys() {
  static const TestKeys k;
  return k;
}

// SHA-256 signature with an asymmetric key: PKCS#1 v1.5 for RSA, DER for ECDSA.
std::string digest_sign(EVP_PKEY* key, const std::string& input) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1)
    std::abort();
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1)
    std::abort();
  sig.resize(len);
  return sig;
}

// RFC 7518 section 3.4: JWS carries ECDSA P-256 signatures as r||s, 32 bytes each.
std::string der_to_raw_es256(const std::string& der) {
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) std::abort();
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(64, '\0');
  auto out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, 32) != 32 || BN_bn2binpad(s, out + 32, 32) != 32) std::abort();
  return raw;
}

enum class Pin { hs256, hs256_aud_iss, rs256, es256 };

JwtVerifier make_verifier(Pin pin) {
  JwtOptions o;
  switch (pin) {
    case Pin::hs256: o.secret = kSecret; break;
    case Pin::hs256_aud_iss:
      o.secret = kSecret;
      o.audience = kAudience;
      o.issuer = kIssuer;
      break;
    case Pin::rs256:
      o.algorithm = JwtAlgorithm::rs256;
      o.public_key_pem = keys().rsa_pem;
      break;
    case Pin::es256:
      o.algorithm = JwtAlgorithm::es256;
      o.public_key_pem = keys().p256_pem;
      break;
  }
  o.leeway_s = 30;
  auto v = JwtVerifier::create(o);
  if (!v) std::abort();
  return std::move(v.value());
}

enum class Signer {
  hs256,            // HMAC-SHA256 with the configured secret
  hs256_wrong,      // HMAC-SHA256 with another secret
  hs256_rsa_pem,    // HMAC-SHA256 keyed with the RSA public key's PEM text
  rs256,            // RSA PKCS#1 v1.5 SHA-256 with the configured key
  rs256_other_key,  // the same with a key the verifier does not know
  es256,            // ECDSA P-256 SHA-256 as raw r||s
  es256_der,        // ECDSA P-256 SHA-256 left in DER
  empty,            // no signature at all
};

enum class Mutation {
  none,
  tamper_payload,    // payload part replaced after signing
  two_parts,         // "header.payload"
  four_parts,        // "header.payload.signature.extra"
  header_bad_char,   // a '*' in the header part
  sig_padding,       // "=" padding appended to the signature
  sig_std_alphabet,  // signature in the standard base64 alphabet with padding
  payload_padding,   // the payload part carries "=" padding and is signed that way
};

struct JwtCase {
  const char* name;
  Pin pin;
  const char* header;
  const char* payload;
  Signer signer;
  Mutation mutation;
  const char* error;  // expected error code, "" when the token must verify
  const char* sub = "";
  Role role = Role::patient;
};

std::string sign(Signer signer, const std::string& input) {
  switch (signer) {
    case Signer::hs256: return hmac_sha256(kSecret, input);
    case Signer::hs256_wrong: return hmac_sha256("Correct horse battery staple", input);
    case Signer::hs256_rsa_pem: return hmac_sha256(keys().rsa_pem, input);
    case Signer::rs256: return digest_sign(keys().rsa.get(), input);
    case Signer::rs256_other_key: {
      static const EvpPkeyPtr other = generate_rsa(2048);
      return digest_sign(other.get(), input);
    }
    case Signer::es256: return der_to_raw_es256(digest_sign(keys().p256.get(), input));
    case Signer::es256_der: return digest_sign(keys().p256.get(), input);
    case Signer::empty: return "";
  }
  return "";
}

std::string make_token(const JwtCase& t) {
  std::string header = base64url_encode(t.header);
  std::string payload = base64url_encode(t.payload);
  if (t.mutation == Mutation::payload_padding) {
    if (payload.size() % 4 == 0) ADD_FAILURE() << "pick a payload whose encoding needs padding";
    while (payload.size() % 4) payload += '=';
  }
  std::string input = header + "." + payload;
  std::string sig = sign(t.signer, input);
  std::string sig_text = base64url_encode(sig);
  switch (t.mutation) {
    case Mutation::tamper_payload:
      return header + "." +
             base64url_encode(R"({"sub":"user-1","role":"admin","exp":1700000600,"aud":"vytal-signald"})") + "." +
             sig_text;
    case Mutation::two_parts: return input;
    case Mutation::four_parts: return input + "." + sig_text + "." + sig_text;
    case Mutation::header_bad_char: return "*" + input.substr(1) + "." + sig_text;
    case Mutation::sig_padding: {
      while (sig_text.size() % 4) sig_text += '=';
      return input + "." + sig_text;
    }
    case Mutation::sig_std_alphabet: return input + "." + base64_encode(sig);
    case Mutation::none:
    case Mutation::payload_padding: break;
  }
  return input + "." + sig_text;
}

constexpr const char* kHS = R"({"alg":"HS256","typ":"JWT"})";
constexpr const char* kRS = R"({"alg":"RS256","typ":"JWT"})";
constexpr const char* kES = R"({"alg":"ES256","typ":"JWT"})";
constexpr const char* kGood = R"({"sub":"user-1","role":"provider","exp":1700000600})";

class JwtVerifyTest : public ::testing::TestWithParam<JwtCase> {};

TEST_P(JwtVerifyTest, Verifies) {
  const JwtCase& t = GetParam();
  JwtVerifier v = make_verifier(t.pin);
  std::string token = make_token(t);
  auto got = v.verify(token, kNow);
  if (*t.error) {
    ASSERT_FALSE(got.ok()) << "accepted " << token;
    EXPECT_EQ(got.error().code, t.error) << got.error().message;
    EXPECT_FALSE(got.error().message.empty());
    return;
  }
  ASSERT_TRUE(got.ok()) << got.error().code << ": " << got.error().message;
  EXPECT_EQ(got->sub, t.sub);
  EXPECT_EQ(role_name(got->role), std::string(role_name(t.role)));
}

INSTANTIATE_TEST_SUITE_P(
    Tokens, JwtVerifyTest,
    ::testing::Values(
        // Accepted.
        JwtCase{"hs256_valid", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::none, "", "user-1", Role::provider},
        JwtCase{"rs256_valid", Pin::rs256, kRS, R"({"sub":"pat-9","role":"patient","exp":1700000600})", Signer::rs256,
                Mutation::none, "", "pat-9", Role::patient},
        JwtCase{"es256_valid", Pin::es256, kES, R"({"sub":"adm-2","role":"admin","exp":1700000600})", Signer::es256,
                Mutation::none, "", "adm-2", Role::admin},
        JwtCase{"service_role", Pin::hs256, R"({"alg":"HS256"})",
                R"({"sub":"platform","role":"service","exp":1700000600})", Signer::hs256, Mutation::none, "",
                "platform", Role::service},
        JwtCase{"role_upper_case", Pin::hs256, kHS, R"({"sub":"user-1","role":"PROVIDER","exp":1700000600})",
                Signer::hs256, Mutation::none, "", "user-1", Role::provider},
        JwtCase{"expired_within_leeway", Pin::hs256, kHS, R"({"sub":"user-1","role":"patient","exp":1699999980})",
                Signer::hs256, Mutation::none, "", "user-1", Role::patient},
        JwtCase{"nbf_within_leeway", Pin::hs256, kHS,
                R"({"sub":"user-1","role":"patient","exp":1700000600,"nbf":1700000020})", Signer::hs256, Mutation::none,
                "", "user-1", Role::patient},
        JwtCase{"nbf_past", Pin::hs256, kHS, R"({"sub":"user-1","role":"patient","exp":1700000600,"nbf":1699990000})",
                Signer::hs256, Mutation::none, "", "user-1", Role::patient},
        JwtCase{
            "aud_iss_right", Pin::hs256_aud_iss, kHS,
            R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":"vytal-signald","iss":"https://auth.vytal.example"})",
            Signer::hs256, Mutation::none, "", "user-1", Role::patient},
        JwtCase{
            "aud_array_contains_ours", Pin::hs256_aud_iss, kHS,
            R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":["portal","vytal-signald"],"iss":"https://auth.vytal.example"})",
            Signer::hs256, Mutation::none, "", "user-1", Role::patient},
        JwtCase{"aud_ignored_when_not_configured", Pin::hs256, kHS,
                R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":"someone-else","iss":"elsewhere"})",
                Signer::hs256, Mutation::none, "", "user-1", Role::patient},

        // Algorithm confusion: the pinned algorithm decides.
        JwtCase{"alg_none_empty_signature", Pin::hs256, R"({"alg":"none","typ":"JWT"})", kGood, Signer::empty,
                Mutation::none, "token_algorithm"},
        JwtCase{"alg_none_with_signature", Pin::hs256, R"({"alg":"none","typ":"JWT"})", kGood, Signer::hs256,
                Mutation::none, "token_algorithm"},
        JwtCase{"alg_none_rs256_pinned", Pin::rs256, R"({"alg":"none"})", kGood, Signer::empty, Mutation::none,
                "token_algorithm"},
        JwtCase{"alg_missing", Pin::hs256, R"({"typ":"JWT"})", kGood, Signer::hs256, Mutation::none, "token_algorithm"},
        JwtCase{"alg_lower_case", Pin::hs256, R"({"alg":"hs256"})", kGood, Signer::hs256, Mutation::none,
                "token_algorithm"},
        JwtCase{"hs256_keyed_with_rsa_public_pem", Pin::rs256, kHS, kGood, Signer::hs256_rsa_pem, Mutation::none,
                "token_algorithm"},
        JwtCase{"rs256_token_hs256_pinned", Pin::hs256, kRS, kGood, Signer::rs256, Mutation::none, "token_algorithm"},
        JwtCase{"rs256_token_es256_pinned", Pin::es256, kRS, kGood, Signer::rs256, Mutation::none, "token_algorithm"},
        JwtCase{"es256_token_rs256_pinned", Pin::rs256, kES, kGood, Signer::es256, Mutation::none, "token_algorithm"},

        // Signatures.
        JwtCase{"hs256_tampered_payload", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::tamper_payload,
                "token_signature"},
        JwtCase{"rs256_tampered_payload", Pin::rs256, kRS, kGood, Signer::rs256, Mutation::tamper_payload,
                "token_signature"},
        JwtCase{"es256_tampered_payload", Pin::es256, kES, kGood, Signer::es256, Mutation::tamper_payload,
                "token_signature"},
        JwtCase{"hs256_wrong_secret", Pin::hs256, kHS, kGood, Signer::hs256_wrong, Mutation::none, "token_signature"},
        JwtCase{"rs256_unknown_key", Pin::rs256, kRS, kGood, Signer::rs256_other_key, Mutation::none,
                "token_signature"},
        JwtCase{"es256_signature_in_der", Pin::es256, kES, kGood, Signer::es256_der, Mutation::none, "token_signature"},
        JwtCase{"hs256_empty_signature", Pin::hs256, kHS, kGood, Signer::empty, Mutation::none, "token_signature"},
        JwtCase{"signature_with_padding", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::sig_padding,
                "token_signature"},
        JwtCase{"signature_standard_alphabet", Pin::rs256, kRS, kGood, Signer::rs256, Mutation::sig_std_alphabet,
                "token_signature"},

        // Structure.
        JwtCase{"two_parts", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::two_parts, "token_malformed"},
        JwtCase{"four_parts", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::four_parts, "token_malformed"},
        JwtCase{"header_not_base64url", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::header_bad_char,
                "token_malformed"},
        JwtCase{"signed_payload_with_padding", Pin::hs256, kHS,
                R"({"sub":"user-12","role":"provider","exp":1700000600})", Signer::hs256, Mutation::payload_padding,
                "token_malformed"},
        JwtCase{"header_not_json", Pin::hs256, "alg=HS256", kGood, Signer::hs256, Mutation::none, "token_malformed"},
        JwtCase{"header_crit", Pin::hs256, R"({"alg":"HS256","crit":["exp"]})", kGood, Signer::hs256, Mutation::none,
                "token_malformed"},
        JwtCase{"payload_not_object", Pin::hs256, kHS, R"(["user-1","provider"])", Signer::hs256, Mutation::none,
                "token_malformed"},
        JwtCase{"payload_duplicate_sub", Pin::hs256, kHS,
                R"({"sub":"user-1","sub":"admin-0","role":"provider","exp":1700000600})", Signer::hs256, Mutation::none,
                "token_malformed"},

        // Time.
        JwtCase{"no_exp", Pin::hs256, kHS, R"({"sub":"user-1","role":"provider"})", Signer::hs256, Mutation::none,
                "token_claims"},
        JwtCase{"exp_is_a_string", Pin::hs256, kHS, R"({"sub":"user-1","role":"provider","exp":"1700000600"})",
                Signer::hs256, Mutation::none, "token_claims"},
        JwtCase{"expired_beyond_leeway", Pin::hs256, kHS, R"({"sub":"user-1","role":"provider","exp":1699999960})",
                Signer::hs256, Mutation::none, "token_expired"},
        JwtCase{"expired_long_ago", Pin::rs256, kRS, R"({"sub":"user-1","role":"provider","exp":1600000000})",
                Signer::rs256, Mutation::none, "token_expired"},
        JwtCase{"nbf_in_future", Pin::hs256, kHS,
                R"({"sub":"user-1","role":"provider","exp":1700000600,"nbf":1700000100})", Signer::hs256,
                Mutation::none, "token_not_yet_valid"},
        JwtCase{"nbf_is_a_string", Pin::hs256, kHS,
                R"({"sub":"user-1","role":"provider","exp":1700000600,"nbf":"now"})", Signer::hs256, Mutation::none,
                "token_claims"},

        // Audience and issuer.
        JwtCase{
            "aud_wrong_string", Pin::hs256_aud_iss, kHS,
            R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":"portal","iss":"https://auth.vytal.example"})",
            Signer::hs256, Mutation::none, "token_audience"},
        JwtCase{
            "aud_wrong_array", Pin::hs256_aud_iss, kHS,
            R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":["portal","billing"],"iss":"https://auth.vytal.example"})",
            Signer::hs256, Mutation::none, "token_audience"},
        JwtCase{"aud_missing", Pin::hs256_aud_iss, kHS,
                R"({"sub":"user-1","role":"patient","exp":1700000600,"iss":"https://auth.vytal.example"})",
                Signer::hs256, Mutation::none, "token_audience"},
        JwtCase{
            "aud_prefix_only", Pin::hs256_aud_iss, kHS,
            R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":"vytal","iss":"https://auth.vytal.example"})",
            Signer::hs256, Mutation::none, "token_audience"},
        JwtCase{
            "iss_wrong", Pin::hs256_aud_iss, kHS,
            R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":"vytal-signald","iss":"https://evil.example"})",
            Signer::hs256, Mutation::none, "token_issuer"},
        JwtCase{"iss_missing", Pin::hs256_aud_iss, kHS,
                R"({"sub":"user-1","role":"patient","exp":1700000600,"aud":"vytal-signald"})", Signer::hs256,
                Mutation::none, "token_issuer"},

        // Identity claims.
        JwtCase{"sub_missing", Pin::hs256, kHS, R"({"role":"provider","exp":1700000600})", Signer::hs256,
                Mutation::none, "token_claims"},
        JwtCase{"sub_empty", Pin::hs256, kHS, R"({"sub":"","role":"provider","exp":1700000600})", Signer::hs256,
                Mutation::none, "token_claims"},
        JwtCase{"sub_number", Pin::hs256, kHS, R"({"sub":42,"role":"provider","exp":1700000600})", Signer::hs256,
                Mutation::none, "token_claims"},
        // Printable ASCII without spaces, at most 128: a sub reaches logs, TURN
        // usernames and the space-separated revocations file.
        JwtCase{"sub_control_character", Pin::hs256, kHS,
                R"({"sub":"user-1\n0 9999999999","role":"patient","exp":1700000600})", Signer::hs256, Mutation::none,
                "token_claims"},
        JwtCase{"sub_escape", Pin::hs256, kHS, R"({"sub":"user\u001b[31m","role":"patient","exp":1700000600})",
                Signer::hs256, Mutation::none, "token_claims"},
        JwtCase{"sub_space", Pin::hs256, kHS, R"({"sub":"user 1","role":"patient","exp":1700000600})", Signer::hs256,
                Mutation::none, "token_claims"},
        JwtCase{"sub_delete", Pin::hs256, kHS, R"({"sub":"user\u007f","role":"patient","exp":1700000600})",
                Signer::hs256, Mutation::none, "token_claims"},
        JwtCase{"sub_non_ascii", Pin::hs256, kHS, R"({"sub":"us\u00e9r","role":"patient","exp":1700000600})",
                Signer::hs256, Mutation::none, "token_claims"},
        JwtCase{
            "sub_129_characters", Pin::hs256, kHS,
            R"({"sub":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","role":"patient","exp":1700000600})",
            Signer::hs256, Mutation::none, "token_claims"},
        JwtCase{"role_unknown", Pin::hs256, kHS, R"({"sub":"user-1","role":"nurse","exp":1700000600})", Signer::hs256,
                Mutation::none, "token_claims"},
        JwtCase{"role_missing", Pin::es256, kES, R"({"sub":"user-1","exp":1700000600})", Signer::es256, Mutation::none,
                "token_claims"},
        JwtCase{"role_prefix", Pin::hs256, kHS, R"({"sub":"user-1","role":"admins","exp":1700000600})", Signer::hs256,
                Mutation::none, "token_claims"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(JwtVerifyTest, RefusesGarbage) {
  JwtVerifier v = make_verifier(Pin::hs256);
  for (const char* token : {"", ".", "..", "a.b.c", "not a token"}) {
    auto got = v.verify(token, kNow);
    ASSERT_FALSE(got.ok()) << token;
    EXPECT_EQ(got.error().code, "token_malformed") << "'" << token << "'";
  }
}

TEST(JwtVerifyTest, ReportsExp) {
  JwtVerifier v = make_verifier(Pin::hs256);
  JwtCase t{"", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::none, ""};
  auto got = v.verify(make_token(t), kNow);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->exp, 1700000600);
}

// A verifier remembers tokens that passed; what it remembers is still checked
// for expiry, and only the exact same text is taken as known.
TEST(JwtVerifyTest, AKnownTokenIsStillRefusedOnceExpiredAndOnlyItsExactTextIsKnown) {
  JwtVerifier v = make_verifier(Pin::hs256);
  std::string token = make_token(JwtCase{"", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::none, ""});
  for (int i = 0; i < 2; ++i) {
    auto got = v.verify(token, kNow);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(got->sub, "user-1");
    EXPECT_EQ(got->exp, 1700000600);
  }
  // make_verifier's leeway is 30 s (kNow + 600 is the exp).
  EXPECT_TRUE(v.verify(token, 1700000600 + 29).ok());
  auto expired = v.verify(token, 1700000600 + 30);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, "token_expired");

  std::string forged = token;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';  // a different signature
  auto refused = v.verify(forged, kNow);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "token_signature");
  std::string tampered = make_token(JwtCase{"", Pin::hs256, kHS, kGood, Signer::hs256, Mutation::tamper_payload, ""});
  refused = v.verify(tampered, kNow);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "token_signature");
  EXPECT_TRUE(v.verify(token, kNow).ok());  // the known token still passes
}

TEST(JwtSignTest, SignedTokenVerifies) {
  JsonPtr claims(json_object());
  json_put(claims.get(), "sub", json_str("prov-7"));
  json_put(claims.get(), "role", json_str("provider"));
  json_put(claims.get(), "exp", json_integer(kNow + 3600));
  std::string token = jwt_sign_hs256(kSecret, claims.get());

  auto got = make_verifier(Pin::hs256).verify(token, kNow);
  ASSERT_TRUE(got.ok()) << got.error().code << ": " << got.error().message;
  EXPECT_EQ(got->sub, "prov-7");
  EXPECT_EQ(got->role, Role::provider);
  EXPECT_EQ(got->exp, kNow + 3600);

  // And its signature is the HMAC of the first two parts, as computed here.
  size_t last_dot = token.rfind('.');
  EXPECT_EQ(token.substr(last_dot + 1), base64url_encode(hmac_sha256(kSecret, token.substr(0, last_dot))));

  JwtOptions other;
  other.secret = "another secret";
  auto wrong = JwtVerifier::create(other).value().verify(token, kNow);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "token_signature");
}

// --- JwtVerifier::create ------------------------------------------------------

enum class KeyKind { none, rsa2048, rsa1024, p256, p384, not_pem };

std::string pem_of(KeyKind k) {
  switch (k) {
    case KeyKind::none: return "";
    case KeyKind::rsa2048: return keys().rsa_pem;
    case KeyKind::rsa1024: return keys().rsa1024_pem;
    case KeyKind::p256: return keys().p256_pem;
    case KeyKind::p384: return keys().p384_pem;
    case KeyKind::not_pem: return "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n";
  }
  return "";
}

struct CreateCase {
  const char* name;
  JwtAlgorithm algorithm;
  const char* secret;
  KeyKind key;
  const char* refused_naming;  // "" when create must succeed; else the key its message starts with
};

class JwtCreateTest : public ::testing::TestWithParam<CreateCase> {};

TEST_P(JwtCreateTest, ChecksKeys) {
  const CreateCase& t = GetParam();
  JwtOptions o;
  o.algorithm = t.algorithm;
  o.secret = t.secret;
  o.public_key_pem = pem_of(t.key);
  auto v = JwtVerifier::create(o);
  if (!*t.refused_naming) {
    EXPECT_TRUE(v.ok()) << v.error().message;
    return;
  }
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, "config");
  EXPECT_EQ(v.error().message.rfind(std::string(t.refused_naming) + ":", 0), 0u) << v.error().message;
}

using A = JwtAlgorithm;
INSTANTIATE_TEST_SUITE_P(
    Keys, JwtCreateTest,
    ::testing::Values(CreateCase{"hs256_with_secret", A::hs256, "s", KeyKind::none, ""},
                      CreateCase{"hs256_empty_secret", A::hs256, "", KeyKind::none, "JWT_SECRET"},
                      CreateCase{"hs256_empty_secret_with_key", A::hs256, "", KeyKind::rsa2048, "JWT_SECRET"},
                      CreateCase{"rs256_rsa2048", A::rs256, "", KeyKind::rsa2048, ""},
                      CreateCase{"rs256_missing_pem", A::rs256, "secret", KeyKind::none, "JWT_PUBLIC_KEY_FILE"},
                      CreateCase{"rs256_not_pem", A::rs256, "", KeyKind::not_pem, "JWT_PUBLIC_KEY_FILE"},
                      CreateCase{"rs256_ec_key", A::rs256, "", KeyKind::p256, "JWT_PUBLIC_KEY_FILE"},
                      CreateCase{"rs256_rsa1024", A::rs256, "", KeyKind::rsa1024, "JWT_PUBLIC_KEY_FILE"},
                      CreateCase{"es256_p256", A::es256, "", KeyKind::p256, ""},
                      CreateCase{"es256_missing_pem", A::es256, "", KeyKind::none, "JWT_PUBLIC_KEY_FILE"},
                      CreateCase{"es256_rsa_key", A::es256, "", KeyKind::rsa2048, "JWT_PUBLIC_KEY_FILE"},
                      CreateCase{"es256_p384_key", A::es256, "", KeyKind::p384, "JWT_PUBLIC_KEY_FILE"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(JwtAlgorithmTest, ParsesOnlyThePinnableNames) {
  EXPECT_EQ(parse_jwt_algorithm("HS256").value(), JwtAlgorithm::hs256);
  EXPECT_EQ(parse_jwt_algorithm("RS256").value(), JwtAlgorithm::rs256);
  EXPECT_EQ(parse_jwt_algorithm("ES256").value(), JwtAlgorithm::es256);
  for (const char* name : {"none", "HS512", "hs256", "PS256", ""}) EXPECT_FALSE(parse_jwt_algorithm(name).ok()) << name;
}

}  // namespace
}  // namespace vytal
