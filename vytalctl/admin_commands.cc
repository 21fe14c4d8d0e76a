#include "vytalctl/admin_commands.h"

#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "admin_ui/accounts.h"
#include "admin_ui/admin_db.h"
#include "admin_ui/audit_outbox.h"
#include "admin_ui/password_hash.h"
#include "appliance_status/appliance_status.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/sqlite.h"
#include "common/time_format.h"

namespace vytal {
namespace {

// One line from the terminal without echo, or from stdin as it is.
bool read_password(const char* prompt, bool from_stdin, std::string* out) {
  if (from_stdin || !isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, *out)) return false;
    if (!out->empty() && out->back() == '\r') out->pop_back();
    return true;
  }
  std::fputs(prompt, stderr);
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  bool ok = static_cast<bool>(std::getline(std::cin, *out));
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::fputs("\n", stderr);
  return ok;
}

bool new_password(const std::string& name, bool from_stdin, std::string* out) {
  if (!read_password(("New password for " + name + " (12 characters or more): ").c_str(), from_stdin, out)) {
    std::fputs("vytalctl: no password given\n", stderr);
    return false;
  }
  if (auto ok = check_password_policy(name, *out); !ok) {
    std::fprintf(stderr, "vytalctl: %s\n", ok.error().message.c_str());
    return false;
  }
  if (!from_stdin && isatty(STDIN_FILENO)) {
    std::string again;
    if (!read_password("Again: ", false, &again) || again != *out) {
      std::fputs("vytalctl: the two passwords differ\n", stderr);
      return false;
    }
  }
  return true;
}

std::string local_time(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &local);
  return buf;
}

// Keeps the audit record in admin.db and tries to hand everything waiting to
// signald now; vytal-admin delivers it later otherwise.
void audit(sqlite3* db, const Config& config, const Clock& clock, const std::string& action, const std::string& outcome,
           const std::string& detail) {
  AuditOutbox outbox(db, clock);
  auto added = outbox.add(make_audit_record(clock, shell_actor(), "cli", action, outcome, "local", detail));
  if (!added) {
    std::fprintf(stderr, "vytalctl: warning: %s\n", added.error().message.c_str());
    return;
  }
  const std::string& socket = config.str("VYTAL_SIGNALD_CONTROL_SOCKET");
  if (socket.empty()) return;
  auto sent = flush_audit_outbox(outbox, HttpTarget{"http://signald", socket});
  if (!sent)
    std::fprintf(stderr, "vytalctl: the audit record waits in admin.db until signald takes it (%s)\n",
                 sent.error().message.c_str());
}

int report(const Error& e) {
  std::fprintf(stderr, "vytalctl: %s\n", e.message.c_str());
  return e.code == "db_error" ? 1 : 2;
}

}  // namespace

// "cli:alice" (or "cli:root via sudo by alice"): who ran the command.
std::string shell_actor() {
  const passwd* pw = getpwuid(getuid());
  std::string actor = std::string("cli:") + (pw ? pw->pw_name : std::to_string(getuid()));
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && getuid() == 0) actor += std::string(" via sudo by ") + sudo;
  return actor;
}

int admin_command(const Config& config, const CommandOptions& o, int64_t) {
  const std::vector<std::string>& a = o.args;
  if (a.empty()) return kUsageError;
  SystemClock clock;
  std::string path = read_admin_db_path(config);
  auto db = open_admin_db(path, clock.now_ms());
  if (!db) {
    std::fprintf(stderr, "vytalctl: %s\n", db.error().message.c_str());
    return 1;
  }
  AccountStore accounts(db.value().get(), clock);
  const std::string& verb = a[0];
  if (verb == "add" && a.size() == 2) {
    auto role = parse_admin_role(o.role);
    if (!role) {
      std::fputs("vytalctl: --role must be viewer, operator or admin\n", stderr);
      return 2;
    }
    std::string password;
    if (!new_password(a[1], o.password_stdin, &password)) return 2;
    auto added = accounts.add(a[1], *role, password);
    if (!added) return report(added.error());
    audit(db.value().get(), config, clock, "account.add", "ok", "added " + added->name + " as " + o.role);
    std::printf("added %s (%s); log in at the admin page\n", added->name.c_str(), admin_role_name(added->role));
    return 0;
  }
  if (verb == "passwd" && a.size() == 2) {
    std::string password;
    if (!new_password(a[1], o.password_stdin, &password)) return 2;
    auto set = accounts.set_password(a[1], password);
    if (!set) return report(set.error());
    audit(db.value().get(), config, clock, "account.password", "ok", "set the password of " + a[1]);
    std::printf("password of %s changed; its sessions ended\n", a[1].c_str());
    return 0;
  }
  if (verb == "disable" && a.size() == 2) {
    auto done = accounts.disable(a[1]);
    if (!done) return report(done.error());
    audit(db.value().get(), config, clock, "account.disable", "ok", a[1]);
    std::printf("%s disabled; its sessions ended\n", a[1].c_str());
    return 0;
  }
  if (verb == "list" && a.size() == 1) {
    auto list = accounts.list();
    if (!list) return report(list.error());
    std::printf("%-24s %-9s %-9s %-5s %s\n", "NAME", "ROLE", "STATE", "TOTP", "LAST LOGIN");
    for (const Account& acc : list.value())
      std::printf("%-24s %-9s %-9s %-5s %s\n", acc.name.c_str(), admin_role_name(acc.role),
                  acc.disabled ? "disabled" : "active", acc.totp_enabled ? "yes" : "no",
                  acc.last_login_at ? local_time(*acc.last_login_at).c_str() : "never");
    if (list->empty()) std::puts("(no accounts: vytalctl admin add NAME --role admin)");
    return 0;
  }
  if (verb == "totp" && a.size() == 3 && (a[1] == "enable" || a[1] == "disable")) {
    if (a[1] == "disable") {
      auto done = accounts.disable_totp(a[2]);
      if (!done) return report(done.error());
      audit(db.value().get(), config, clock, "account.totp_disable", "ok", a[2]);
      std::printf("one-time codes disabled for %s\n", a[2].c_str());
      return 0;
    }
    auto e = accounts.enable_totp(a[2], "VytalWatch");
    if (!e) return report(e.error());
    audit(db.value().get(), config, clock, "account.totp_enable", "ok", a[2]);
    std::printf(
        "One-time codes enabled for %s. Add this to an authenticator app (or type the secret):\n\n  %s\n\n"
        "  secret: %s\n\nRecovery codes, each usable once instead of a code (keep them somewhere safe; they are "
        "not shown again):\n\n",
        a[2].c_str(), e->uri.c_str(), e->secret_base32.c_str());
    for (const std::string& c : e->recovery_codes) std::printf("  %s\n", c.c_str());
    return 0;
  }
  return kUsageError;
}

int status_command(const Config& config, const CommandOptions& o, int64_t) {
  SystemClock clock;
  StatusOptions options = read_status_options(config);
  SqliteOpenOptions read_only;
  read_only.read_only = true;
  auto db = sqlite_open(read_call_log_path(config), read_only);
  ApplianceStatus st = collect_status(options, db ? db.value().get() : nullptr, clock);
  if (o.json)
    std::printf("%s\n", json_dump(status_to_json(st).get()).c_str());
  else
    std::fputs(status_to_text(st).c_str(), stdout);
  return st.needs_attention() ? 1 : 0;
}

}  // namespace vytal
