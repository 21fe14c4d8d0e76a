// Admin passwords: Argon2id through Debian's libargon2, in the PHC string
// format ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"), so the parameters
// travel with each hash and can be raised later without a migration.
// CPU-bound (tens of milliseconds, kArgon2MemoryKiB of memory), thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vytal {

// OWASP's Password Storage Cheat Sheet minimum for Argon2id: 19 MiB, two
// passes, one lane.
inline constexpr uint32_t kArgon2MemoryKiB = 19 * 1024;
inline constexpr uint32_t kArgon2Passes = 2;
inline constexpr uint32_t kArgon2Lanes = 1;

struct PasswordPolicy {
  static constexpr size_t kMinLength = 12;   // characters (UTF-8 code points)
  static constexpr size_t kMaxLength = 128;  // ASVS: at least 64 allowed
};

// Error code "weak_password" with a sentence saying what to change: too
// short, too long, or containing the account name (any case).
Result<bool> check_password_policy(std::string_view account, std::string_view password);

// A fresh random 16-byte salt each time.
std::string hash_password(std::string_view password);
// False for a wrong password or a string that is not an Argon2id hash.
bool verify_password(std::string_view encoded, std::string_view password);
// Spends the time of one verification without a real hash, so an unknown
// account answers as slowly as a wrong password.
void verify_dummy_password(std::string_view password);

}  // namespace vytal
