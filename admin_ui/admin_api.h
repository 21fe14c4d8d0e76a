// vytal-admin's routes: the embedded page (public), and the JSON API under
// /api/ that it calls with relative URLs (so the page works at / and behind
// nginx under /admin/). Runs on the web server's thread, which owns the
// admin.db and call-log connections passed in.
//
//   POST /api/login {name,password,code?}   Origin checked; throttled; sets the session cookie
//   POST /api/logout, POST /api/password    Origin + X-CSRF-Token
//   GET  /api/session                       who is logged in, the CSRF token, timeouts
//   GET  /api/overview                      appliance_status + the audit outbox
//   GET  /api/calls?..., /api/calls/{id}, /api/calls.csv?...   (viewer)
//   GET  /api/audit?..., /api/audit.csv?...                    (viewer)
//   GET  /api/accounts, POST /api/accounts, POST /api/accounts/{name}/disable|reset-totp (admin)
//   /api/conntest/..., and the public /network-test/...: connectivity_api.h
//   /api/turn..., /api/settings..., /api/apply/{id}: TurnSettingsApi (admin)
//
// Every response carries the security headers (CSP, nosniff, no referrer,
// no framing, no-store). Every state-changing request is a POST with an
// Origin the server accepts and, once logged in, the session's CSRF token.
// Logins, failures, exports and account changes are audited through the
// audit outbox before they are answered.
#pragma once

#include <optional>
#include <string>

#include "admin_ui/accounts.h"
#include "admin_ui/admin_config.h"
#include "admin_ui/audit_outbox.h"
#include "admin_ui/connectivity_api.h"
#include "admin_ui/login_throttle.h"
#include "admin_ui/refusal_audit.h"
#include "admin_ui/sessions.h"
#include "admin_ui/turn_settings_api.h"
#include "admin_ui/web_server.h"
#include "common/clock.h"

namespace vytal {

inline constexpr const char* kSessionCookie = "__Host-vytal_admin";

struct AdminApiDeps {
  const AdminSettings& settings;
  const Clock& clock;
  sqlite3* admin_db;  // read-write, this thread only
  sqlite3* call_log;  // read-only, this thread only
  LoginThrottle& throttle;
  AuditShipper* shipper;  // woken after each audit record; null: records wait for the next pass
};

class AdminApi {
 public:
  explicit AdminApi(AdminApiDeps deps);
  // After the web server has stopped: writes the refusals still counted.
  ~AdminApi();
  WebResponse handle(WebRequest& request);
  // For vytal-admin's timer, which writes the minutes' counts as they end.
  RefusalAudit& refusals() { return refusals_; }

 private:
  struct Context;
  WebResponse route(Context& cx);
  WebResponse login(Context& cx);
  WebResponse logout(Context& cx);
  WebResponse change_password(Context& cx);
  WebResponse session_info(Context& cx);
  WebResponse overview(Context& cx);
  WebResponse calls(Context& cx, bool csv);
  WebResponse call(Context& cx, const std::string& id);
  WebResponse audit_log(Context& cx, bool csv);
  WebResponse accounts(Context& cx);
  WebResponse add_account(Context& cx);
  WebResponse account_action(Context& cx, const std::string& name, const std::string& action);

  // The client's address: the peer, or X-Real-IP from a trusted proxy.
  std::string client_address(const WebRequest& req) const;
  bool origin_ok(const WebRequest& req) const;
  // Writes the audit record to the outbox; false when it cannot be kept.
  // The actor is the session's account, or `actor` when given (a failed
  // login: the name that was typed).
  bool audit(const Context& cx, const std::string& action, const std::string& outcome, const std::string& detail,
             std::optional<std::string> call_id = std::nullopt, std::optional<std::string> actor = std::nullopt);

  AdminApiDeps d_;
  RefusalAudit refusals_;  // by session, for the audit of refused access
  AccountStore accounts_;
  SessionStore sessions_;
  AuditOutbox outbox_;
  ConnectivityApi connectivity_;   // the connectivity test and its public links
  TurnSettingsApi turn_settings_;  // /api/turn, /api/settings, /api/apply (admin)
};

}  // namespace vytal
