// Admin accounts in admin.db: names, roles, Argon2id password hashes,
// optional TOTP with one-time recovery codes. Used by vytal-admin (login,
// the accounts page) and vytalctl's admin commands, each with its own
// connection; one thread at a time per AccountStore.
//
// Error codes: invalid_name, weak_password, account_exists, no_such_account,
// totp_not_enabled, db_error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/sqlite.h"

namespace vytal {

// viewer reads; operator also acts on calls; admin also accounts and settings.
enum class AdminRole { viewer, operator_, admin };
const char* admin_role_name(AdminRole role);
std::optional<AdminRole> parse_admin_role(std::string_view name);
// Whether `role` includes everything `needed` may do.
inline bool role_at_least(AdminRole role, AdminRole needed) {
  return static_cast<int>(role) >= static_cast<int>(needed);
}

struct Account {
  std::string name;
  AdminRole role = AdminRole::viewer;
  bool disabled = false;
  bool totp_enabled = false;
  int64_t created_at = 0;  // Unix ms
  int64_t password_changed_at = 0;
  std::optional<int64_t> last_login_at;
  int recovery_codes_left = 0;
};

struct TotpEnrollment {
  std::string secret_base32;
  std::string uri;                          // otpauth://... for an authenticator app
  std::vector<std::string> recovery_codes;  // shown once; stored hashed
};

// Why a login failed. The user sees the same answer for unknown_account,
// wrong_password and disabled; the audit row says which.
enum class LoginFailure { unknown_account, wrong_password, disabled, totp_required, wrong_totp };
const char* login_failure_name(LoginFailure f);

// Account names: 1 to 64 of a-z, 0-9, '.', '_', '-' (stored lower case).
bool is_account_name(std::string_view name);

class AccountStore {
 public:
  AccountStore(sqlite3* db, const Clock& clock);

  Result<Account> add(std::string_view name, AdminRole role, std::string_view password);
  // Also ends every session of the account.
  Result<bool> set_password(std::string_view name, std::string_view password);
  // Also ends every session of the account; a disabled account cannot log in.
  Result<bool> disable(std::string_view name);
  Result<std::vector<Account>> list();
  Result<std::optional<Account>> find(std::string_view name);
  // A new secret and ten recovery codes (replacing any previous ones).
  Result<TotpEnrollment> enable_totp(std::string_view name, std::string_view issuer);
  Result<bool> disable_totp(std::string_view name);

  // Checks a login: the password (Argon2id; a dummy hash for an unknown name,
  // so both take the same time), then, when the account has TOTP, `code`:
  // six digits (a time step not used before) or an unused recovery code,
  // which is then used up. On success records the login time.
  Result<Account> check_login(std::string_view name, std::string_view password, std::string_view code,
                              LoginFailure* why);
  // Checks the password of an account without logging in (password change).
  bool password_matches(std::string_view name, std::string_view password);

 private:
  Result<bool> end_sessions(std::string_view name);
  Account read_row(const Statement& s);

  sqlite3* db_;
  const Clock& clock_;
};

}  // namespace vytal
