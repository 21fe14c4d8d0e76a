#include "admin_ui/totp.h"

#include <cctype>

#include "common/crypto.h"

namespace vytal {
namespace {

constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string uri_escape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string hotp(std::string_view key, uint64_t counter, int digits) {
  char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  std::string mac = hmac_sha1(key, std::string_view(msg, 8));
  // Dynamic truncation: the low nibble of the last byte picks 4 bytes.
  int offset = mac[19] & 0x0f;
  uint32_t bin = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 1])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 2])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 3]));
  uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string out = std::to_string(bin % mod);
  return std::string(static_cast<size_t>(digits) - out.size(), '0') + out;
}

std::optional<int64_t> totp_match(std::string_view key, std::string_view code, int64_t unix_s) {
  if (code.size() != static_cast<size_t>(kTotpDigits)) return std::nullopt;
  int64_t step = unix_s / kTotpStepSeconds;
  std::optional<int64_t> matched;
  for (int64_t s = step - 1; s <= step + 1; ++s)  // all three compared: no early exit
    if (constant_time_equal(hotp(key, static_cast<uint64_t>(s), kTotpDigits), code)) matched = s;
  return matched;
}

std::string base32_encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == ' ' || ch == '=') continue;
    char c = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= '2' && c <= '7')
      v = c - '2' + 26;
    else
      return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view key) {
  return "otpauth://totp/" + uri_escape(issuer) + ":" + uri_escape(account) + "?secret=" + base32_encode(key) +
         "&issuer=" + uri_escape(issuer) + "&algorithm=SHA1&digits=6&period=30";
}

}  // namespace vytal
