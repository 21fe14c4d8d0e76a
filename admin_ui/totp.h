// Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), as
// authenticator apps implement them: HMAC-SHA1, 30-second steps, 6 digits.
// Pure functions; the secret is raw bytes, shown to people in base32.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vytal {

inline constexpr int64_t kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;

// RFC 4226 section 5.3: HMAC-SHA1 of the 8-byte counter, dynamic
// truncation, modulo 10^digits, zero-padded.
std::string hotp(std::string_view key, uint64_t counter, int digits);
// RFC 6238 section 4: the counter is floor(unix_s / 30).
inline std::string totp(std::string_view key, int64_t unix_s, int digits = kTotpDigits) {
  return hotp(key, static_cast<uint64_t>(unix_s / kTotpStepSeconds), digits);
}

// The time step `code` matches within ±1 step of `unix_s` (RFC 6238
// section 5.2's allowance for clock drift and typing time), compared in
// constant time; nullopt when none does. A caller refuses a step it has
// already accepted (replay).
std::optional<int64_t> totp_match(std::string_view key, std::string_view code, int64_t unix_s);

// RFC 4648 section 6 base32, upper case, without padding (as otpauth URIs
// carry secrets). decode accepts lower case, spaces and padding.
std::string base32_encode(std::string_view bytes);
std::optional<std::string> base32_decode(std::string_view text);

// otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view key);

}  // namespace vytal
