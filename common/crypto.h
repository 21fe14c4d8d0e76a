// Crypto helpers on OpenSSL 3: HMAC, base64 / base64url, random, UUIDs.
// All functions are thread-safe and do not block beyond the CPU work, but for
// sha256_file, which reads its file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vytal {

std::string sha1(std::string_view data);
// Only where a protocol demands it: the STUN long-term credential key (RFC 8489 9.2.2).
std::string md5(std::string_view data);
std::string sha256(std::string_view data);
// A file's SHA-256, read in pieces; nullopt when it cannot be read.
std::optional<std::string> sha256_file(const std::string& path);
// Lower-case hexadecimal, two digits a byte.
std::string hex_encode(std::string_view bytes);
std::string hmac_sha1(std::string_view key, std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string base64_encode(std::string_view bytes);
// Unpadded URL-safe alphabet (RFC 4648 section 5), as JWTs use it.
std::string base64url_encode(std::string_view bytes);
// Refuses padding, whitespace and characters outside the alphabet.
std::optional<std::string> base64url_decode(std::string_view text);

bool constant_time_equal(std::string_view a, std::string_view b);

// Cryptographically random bytes; aborts if the system has no entropy.
std::string random_bytes(size_t n);

// RFC 9562 UUID version 7: time-ordered, so rows created together sit
// together in the index. unix_ms is the creation time.
std::string uuid_v7(int64_t unix_ms);
// The same from 16 given bytes instead of random ones (their first 6 give way
// to the time, and the version and variant bits are set): one source gives
// one id.
std::string uuid_v7(int64_t unix_ms, std::string_view bytes16);
// The 8-4-4-4-12 lower-case hex form of 16 bytes (version and variant bits as given).
std::string format_uuid(std::string_view bytes16);
bool is_uuid(std::string_view text);

}  // namespace vytal
