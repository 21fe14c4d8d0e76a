#include "admin_ui/accounts.h"

#include <cctype>

#include "admin_ui/password_hash.h"
#include "admin_ui/totp.h"
#include "common/crypto.h"

namespace vytal {
namespace {

constexpr int kRecoveryCodes = 10;
constexpr const char* kAccountColumns =
    "name, role, disabled, totp_secret IS NOT NULL, created_at, password_changed_at, last_login_at, "
    "(SELECT count(*) FROM recovery_codes r WHERE r.account = a.name AND r.used_at IS NULL)";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A recovery code as typed: upper case, no dashes or spaces.
std::string normalize_code(std::string_view code) {
  std::string out;
  for (char c : code)
    if (c != '-' && c != ' ') out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string code_hash(std::string_view normalized) { return hex_encode(sha256(normalized)); }

Error db_error(sqlite3* db) { return Error{"db_error", std::string("admin.db: ") + sqlite3_errmsg(db)}; }

bool step_done(Statement& s) { return s.step() == SQLITE_DONE; }

}  // namespace

const char* admin_role_name(AdminRole role) {
  switch (role) {
    case AdminRole::viewer: return "viewer";
    case AdminRole::operator_: return "operator";
    case AdminRole::admin: return "admin";
  }
  return "viewer";
}

std::optional<AdminRole> parse_admin_role(std::string_view name) {
  if (name == "viewer") return AdminRole::viewer;
  if (name == "operator") return AdminRole::operator_;
  if (name == "admin") return AdminRole::admin;
  return std::nullopt;
}

const char* login_failure_name(LoginFailure f) {
  switch (f) {
    case LoginFailure::unknown_account: return "unknown_account";
    case LoginFailure::wrong_password: return "wrong_password";
    case LoginFailure::disabled: return "account_disabled";
    case LoginFailure::totp_required: return "totp_required";
    case LoginFailure::wrong_totp: return "wrong_totp";
  }
  return "unknown";
}

bool is_account_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

AccountStore::AccountStore(sqlite3* db, const Clock& clock) : db_(db), clock_(clock) {}

Account AccountStore::read_row(const Statement& s) {
  Account a;
  a.name = s.text(0);
  a.role = parse_admin_role(s.text(1)).value_or(AdminRole::viewer);
  a.disabled = s.integer(2) != 0;
  a.totp_enabled = s.integer(3) != 0;
  a.created_at = s.integer(4);
  a.password_changed_at = s.integer(5);
  a.last_login_at = s.opt_integer(6);
  a.recovery_codes_left = static_cast<int>(s.integer(7));
  return a;
}

Result<Account> AccountStore::add(std::string_view raw_name, AdminRole role, std::string_view password) {
  std::string name = lower(raw_name);
  if (!is_account_name(name)) return Error{"invalid_name", "an account name is 1 to 64 of a-z, 0-9, '.', '_' and '-'"};
  if (auto ok = check_password_policy(name, password); !ok) return ok.error();
  auto existing = find(name);
  if (!existing) return existing.error();
  if (existing.value()) return Error{"account_exists", "an account named " + name + " exists already"};
  int64_t now = clock_.now_ms();
  Statement s(db_,
              "INSERT INTO accounts(name, role, password_hash, created_at, updated_at, password_changed_at) "
              "VALUES(?1, ?2, ?3, ?4, ?4, ?4)");
  s.bind(1, name).bind(2, admin_role_name(role)).bind(3, hash_password(password)).bind(4, now);
  if (!step_done(s)) return db_error(db_);
  auto made = find(name);
  if (!made || !made.value()) return db_error(db_);
  return *made.value();
}

Result<std::optional<Account>> AccountStore::find(std::string_view raw_name) {
  Statement s(db_, (std::string("SELECT ") + kAccountColumns + " FROM accounts a WHERE name = ?").c_str());
  s.bind(1, lower(raw_name));
  int rc = s.step();
  if (rc == SQLITE_ROW) return std::optional<Account>(read_row(s));
  if (rc != SQLITE_DONE) return db_error(db_);
  return std::optional<Account>();
}

Result<std::vector<Account>> AccountStore::list() {
  Statement s(db_, (std::string("SELECT ") + kAccountColumns + " FROM accounts a ORDER BY name").c_str());
  std::vector<Account> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(read_row(s));
  if (rc != SQLITE_DONE) return db_error(db_);
  return out;
}

Result<bool> AccountStore::end_sessions(std::string_view name) {
  Statement s(db_, "DELETE FROM sessions WHERE account = ?");
  s.bind(1, lower(name));
  if (!step_done(s)) return db_error(db_);
  return true;
}

Result<bool> AccountStore::set_password(std::string_view raw_name, std::string_view password) {
  std::string name = lower(raw_name);
  if (auto ok = check_password_policy(name, password); !ok) return ok.error();
  int64_t now = clock_.now_ms();
  Statement s(db_, "UPDATE accounts SET password_hash = ?1, password_changed_at = ?2, updated_at = ?2 WHERE name = ?3");
  s.bind(1, hash_password(password)).bind(2, now).bind(3, name);
  if (!step_done(s)) return db_error(db_);
  if (sqlite3_changes(db_) == 0) return Error{"no_such_account", "no account named " + name};
  return end_sessions(name);
}

Result<bool> AccountStore::disable(std::string_view raw_name) {
  std::string name = lower(raw_name);
  Statement s(db_, "UPDATE accounts SET disabled = 1, updated_at = ?1 WHERE name = ?2");
  s.bind(1, clock_.now_ms()).bind(2, name);
  if (!step_done(s)) return db_error(db_);
  if (sqlite3_changes(db_) == 0) return Error{"no_such_account", "no account named " + name};
  return end_sessions(name);
}

Result<TotpEnrollment> AccountStore::enable_totp(std::string_view raw_name, std::string_view issuer) {
  std::string name = lower(raw_name);
  std::string key = random_bytes(20);  // RFC 4226 section 4: 160 bits recommended
  TotpEnrollment e;
  e.secret_base32 = base32_encode(key);
  e.uri = otpauth_uri(issuer, name, key);
  std::string error;
  if (!sqlite_exec(db_, "BEGIN IMMEDIATE", &error)) return Error{"db_error", error};
  Statement s(db_, "UPDATE accounts SET totp_secret = ?1, totp_last_step = NULL, updated_at = ?2 WHERE name = ?3");
  s.bind(1, e.secret_base32).bind(2, clock_.now_ms()).bind(3, name);
  bool ok = step_done(s);
  bool found = ok && sqlite3_changes(db_) > 0;
  Statement clear(db_, "DELETE FROM recovery_codes WHERE account = ?");
  ok = ok && found && (clear.bind(1, name), step_done(clear));
  Statement add(db_, "INSERT INTO recovery_codes(account, code_hash) VALUES(?1, ?2)");
  for (int i = 0; ok && i < kRecoveryCodes; ++i) {
    std::string code = base32_encode(random_bytes(10));  // 80 bits, 16 characters
    e.recovery_codes.push_back(code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8, 4) + "-" +
                               code.substr(12, 4));
    add.bind(1, name).bind(2, code_hash(code));
    ok = step_done(add);
    add.reset();
  }
  if (!ok || !sqlite_exec(db_, "COMMIT", &error)) {
    Error err = found ? db_error(db_) : Error{"no_such_account", "no account named " + name};
    sqlite_exec(db_, "ROLLBACK", nullptr);
    return err;
  }
  return e;
}

Result<bool> AccountStore::disable_totp(std::string_view raw_name) {
  std::string name = lower(raw_name);
  auto a = find(name);
  if (!a) return a.error();
  if (!a.value()) return Error{"no_such_account", "no account named " + name};
  if (!a.value()->totp_enabled) return Error{"totp_not_enabled", name + " has no one-time codes enabled"};
  Statement s(db_, "UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL, updated_at = ?1 WHERE name = ?2");
  s.bind(1, clock_.now_ms()).bind(2, name);
  Statement clear(db_, "DELETE FROM recovery_codes WHERE account = ?");
  clear.bind(1, name);
  if (!step_done(s) || !step_done(clear)) return db_error(db_);
  return true;
}

bool AccountStore::password_matches(std::string_view name, std::string_view password) {
  Statement s(db_, "SELECT password_hash FROM accounts WHERE name = ?");
  s.bind(1, lower(name));
  if (s.step() != SQLITE_ROW) {
    verify_dummy_password(password);
    return false;
  }
  return verify_password(s.text(0), password);
}

Result<Account> AccountStore::check_login(std::string_view raw_name, std::string_view password, std::string_view code,
                                          LoginFailure* why) {
  std::string name = lower(raw_name);
  Statement s(db_, "SELECT password_hash, disabled, totp_secret, totp_last_step FROM accounts WHERE name = ?");
  s.bind(1, name);
  int rc = s.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(db_);
  Error refused{"bad_credentials", "the account name or the password is wrong"};
  if (rc == SQLITE_DONE) {
    verify_dummy_password(password);
    *why = LoginFailure::unknown_account;
    return refused;
  }
  bool password_ok = verify_password(s.text(0), password);
  bool disabled = s.integer(1) != 0;
  std::optional<std::string> secret = s.opt_text(2);
  std::optional<int64_t> last_step = s.opt_integer(3);
  // End the read before writing: a connection still reading cannot take the
  // write lock once another connection has committed (SQLITE_BUSY_SNAPSHOT).
  s.reset();
  if (!password_ok) {
    *why = LoginFailure::wrong_password;
    return refused;
  }
  if (disabled) {
    *why = LoginFailure::disabled;
    return refused;
  }
  if (secret) {
    if (code.empty()) {
      *why = LoginFailure::totp_required;
      return Error{"totp_required", "enter the six-digit code from your authenticator app, or a recovery code"};
    }
    bool ok = false;
    auto key = base32_decode(*secret);
    if (key && code.size() == static_cast<size_t>(kTotpDigits)) {
      auto step = totp_match(*key, code, clock_.now_s());
      if (step && (!last_step || *step > *last_step)) {  // each code once (RFC 6238 section 5.2)
        Statement used(db_, "UPDATE accounts SET totp_last_step = ?1 WHERE name = ?2");
        used.bind(1, *step).bind(2, name);
        ok = step_done(used);
      }
    } else {
      Statement use(db_,
                    "UPDATE recovery_codes SET used_at = ?1 WHERE account = ?2 AND code_hash = ?3 AND used_at IS NULL");
      use.bind(1, clock_.now_ms()).bind(2, name).bind(3, code_hash(normalize_code(code)));
      ok = step_done(use) && sqlite3_changes(db_) == 1;
    }
    if (!ok) {
      *why = LoginFailure::wrong_totp;
      return Error{"bad_totp", "the one-time code is wrong or was used already"};
    }
  }
  Statement seen(db_, "UPDATE accounts SET last_login_at = ?1 WHERE name = ?2");
  seen.bind(1, clock_.now_ms()).bind(2, name);
  if (!step_done(seen)) return db_error(db_);
  auto a = find(name);
  if (!a || !a.value()) return db_error(db_);
  return *a.value();
}

}  // namespace vytal
