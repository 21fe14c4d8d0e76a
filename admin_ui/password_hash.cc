#include "admin_ui/password_hash.h"

#include <argon2.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

#include "common/crypto.h"

namespace vytal {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<bool> check_password_policy(std::string_view account, std::string_view password) {
  size_t n = code_points(password);
  if (n < PasswordPolicy::kMinLength)
    return Error{"weak_password", "the password must have at least " + std::to_string(PasswordPolicy::kMinLength) +
                                      " characters; a passphrase of several words is easiest"};
  if (n > PasswordPolicy::kMaxLength)
    return Error{"weak_password",
                 "the password may have at most " + std::to_string(PasswordPolicy::kMaxLength) + " characters"};
  if (!account.empty() && lower(password).find(lower(account)) != std::string::npos)
    return Error{"weak_password", "the password must not contain the account name"};
  return true;
}

std::string hash_password(std::string_view password) {
  std::string salt = random_bytes(kSaltBytes);
  size_t len = argon2_encodedlen(kArgon2Passes, kArgon2MemoryKiB, kArgon2Lanes, kSaltBytes, kHashBytes, Argon2_id);
  std::vector<char> encoded(len);
  int rc = argon2id_hash_encoded(kArgon2Passes, kArgon2MemoryKiB, kArgon2Lanes, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) std::abort();  // only out of memory or a programming error
  return std::string(encoded.data());
}

bool verify_password(std::string_view encoded, std::string_view password) {
  if (encoded.substr(0, 10) != "$argon2id$") return false;
  std::string e(encoded);  // argon2id_verify wants a NUL-terminated string
  return argon2id_verify(e.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void verify_dummy_password(std::string_view password) {
  // A hash made once with the same parameters; verifying against it costs
  // what a real verification costs.
  static const std::string dummy = hash_password("vytal-admin dummy password for unknown accounts");
  (void)verify_password(dummy, password);
}

}  // namespace vytal
