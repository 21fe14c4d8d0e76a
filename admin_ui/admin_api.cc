#include "admin_ui/admin_api.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "admin_ui/api_responses.h"
#include "admin_ui/call_queries.h"
#include "admin_ui/live_routes.h"
#include "admin_ui/password_hash.h"
#include "admin_ui/web_assets.h"
#include "appliance_status/appliance_status.h"
#include "call_log/call_state.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/time_format.h"

namespace vytal {

struct AdminApi::Context {
  WebRequest& req;
  std::string client;
  std::optional<Session> session;
};

namespace {

constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'";
constexpr int kMaxPageSize = 200;

void add_security_headers(WebResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  r.headers.emplace_back("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  r.headers.emplace_back("Cache-Control", "no-store");
}

std::string session_cookie(const std::string& id) {
  // __Host-: Secure, Path=/ and no Domain, so no other host can set or read it.
  return std::string(kSessionCookie) + "=" + id + "; Path=/; Secure; HttpOnly; SameSite=Strict";
}

std::string clear_cookie() {
  return std::string(kSessionCookie) + "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0";
}

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    out.push_back(path.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j;
  }
  return out;
}

// What a person typed as an account name, made safe to keep in the audit
// log: printable, at most 64 bytes.
std::string typed_name(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  return out.empty() ? std::string("(empty)") : out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> param(const WebRequest& req, const char* name) {
  const char* v = req.query(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

// Reads a time filter: RFC 3339 text or Unix milliseconds.
bool time_param(const WebRequest& req, const char* name, std::optional<int64_t>* out, std::string* bad) {
  auto v = param(req, name);
  if (!v) return true;
  if (std::all_of(v->begin(), v->end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
      v->size() < 16) {
    *out = std::stoll(*v);
    return true;
  }
  *out = parse_timestamp(*v);
  if (!*out) *bad = std::string(name) + " must be a time such as 2026-11-24T15:00:00Z";
  return out->has_value();
}

bool limit_param(const WebRequest& req, int* limit, std::string* bad) {
  auto v = param(req, "limit");
  if (!v) return true;
  char* end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  if (*end || n < 1 || n > kMaxPageSize) {
    *bad = "limit must be from 1 to " + std::to_string(kMaxPageSize);
    return false;
  }
  *limit = static_cast<int>(n);
  return true;
}

bool is_printable_id(const std::string& s) {
  return !s.empty() && s.size() <= 128 &&
         std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

std::string describe_filter(const WebRequest& req, std::initializer_list<const char*> names) {
  std::string out;
  for (const char* n : names)
    if (auto v = param(req, n)) out += (out.empty() ? "" : " ") + std::string(n) + "=" + v->substr(0, 64);
  return out.empty() ? "no filter" : out;
}

std::string field(const json_t* j, const char* key) {
  auto v = json_string_field(j, key);
  return v ? std::string(*v) : std::string();
}

}  // namespace

AdminApi::AdminApi(AdminApiDeps deps)
    : d_(deps),
      accounts_(deps.admin_db, deps.clock),
      sessions_(deps.admin_db, deps.clock, deps.settings.sessions),
      outbox_(deps.admin_db, deps.clock),
      connectivity_(deps.settings.connectivity, deps.clock, deps.admin_db, outbox_, deps.shipper),
      turn_settings_(deps.settings, deps.clock) {}

AdminApi::~AdminApi() { audit_counted_refusals(refusals_, outbox_, d_.clock, true); }

std::string AdminApi::client_address(const WebRequest& req) const {
  const auto& proxies = d_.settings.trusted_proxies;
  if (std::find(proxies.begin(), proxies.end(), req.peer_addr) != proxies.end())
    if (const char* real = req.header("X-Real-IP")) {
      unsigned char addr[16];
      if (inet_pton(AF_INET, real, addr) == 1 || inet_pton(AF_INET6, real, addr) == 1) return real;
    }
  return req.peer_addr;
}

bool AdminApi::origin_ok(const WebRequest& req) const {
  // Browsers send Origin on every POST; a request without one is not from our page.
  const char* origin = req.header("Origin");
  const char* host = req.header("Host");
  if (!origin || !host) return false;
  const auto& proxies = d_.settings.trusted_proxies;
  bool proxied = std::find(proxies.begin(), proxies.end(), req.peer_addr) != proxies.end();
  const char* proto = proxied ? req.header("X-Forwarded-Proto") : nullptr;
  std::string own = std::string(proto && std::strcmp(proto, "https") == 0 ? "https" : "http") + "://" + host;
  if (origin == own) return true;
  const auto& allowed = d_.settings.allowed_origins;
  return std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
}

bool AdminApi::audit(const Context& cx, const std::string& action, const std::string& outcome,
                     const std::string& detail, std::optional<std::string> call_id,
                     std::optional<std::string> typed_actor) {
  std::string actor = typed_actor ? *typed_actor : cx.session ? cx.session->account : "(none)";
  std::string role = cx.session ? admin_role_name(cx.session->role) : "none";
  auto added =
      outbox_.add(make_audit_record(d_.clock, actor, role, action, outcome, cx.client, detail, std::move(call_id)));
  if (!added) {
    LOG_ERROR("vytal-admin: audit record %s for %s not kept: %s", action.c_str(), actor.c_str(),
              added.error().message.c_str());
    return false;
  }
  if (d_.shipper) d_.shipper->wake();
  return true;
}

WebResponse AdminApi::handle(WebRequest& req) {
  auto start = std::chrono::steady_clock::now();
  Context cx{req, client_address(req), std::nullopt};
  WebResponse r = route(cx);
  add_security_headers(r);
  // The time spent here (a stream's rows are read later, as the client reads).
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  char timing[48];
  std::snprintf(timing, sizeof timing, "app;dur=%.3f", ms);
  r.headers.emplace_back("Server-Timing", timing);
  return r;
}

WebResponse AdminApi::route(Context& cx) {
  WebRequest& req = cx.req;
  const bool get = req.method == "GET" || req.method == "HEAD", post = req.method == "POST";
  std::vector<std::string> seg = segments(req.path);
  if (!seg.empty() && seg[0] == kPublicTestPath)  // a clinic's test link: no session
    return connectivity_.public_route(req, cx.client, std::vector<std::string>(seg.begin() + 1, seg.end()));

  if (seg.empty() || seg[0] != "api") {  // the page: public, nothing in it is data
    if (!get) return error(405, "method_not_allowed", "the page takes GET");
    std::string name = seg.empty() ? "index.html" : seg.size() == 1 ? seg[0] : "";
    const AdminAsset* asset = find_admin_asset(name);
    if (!asset) return error(404, "not_found", "no such page");
    WebResponse r;
    r.content_type = asset->content_type;
    r.body.assign(asset->data, asset->size);
    return r;
  }
  std::string route = seg.size() > 1 ? seg[1] : "";

  if (route == "login" && seg.size() == 2) {
    if (!post) return error(405, "method_not_allowed", "log in with POST");
    return login(cx);
  }
  // Everything else needs a live session.
  const char* cookie = req.cookie(kSessionCookie);
  const char* background = req.header("X-Vytal-Background");
  auto found = sessions_.find(cookie ? cookie : "", !(background && std::strcmp(background, "1") == 0));
  if (!found) return error(503, "admin_db", found.error().message);
  cx.session = std::move(found.value());
  if (!cx.session) {
    WebResponse r = error(401, "not_logged_in", "log in first (a session ends after a while without use)");
    if (cookie) r.headers.emplace_back("Set-Cookie", clear_cookie());
    return r;
  }
  if (post) {
    // Cross-site request forgery: the Origin must be ours and the token the session's.
    if (!origin_ok(req)) return error(403, "origin_refused", "this request did not come from the admin page");
    const char* token = req.header("X-CSRF-Token");
    if (!SessionStore::csrf_ok(*cx.session, token ? token : ""))
      return error(403, "csrf_refused", "the page's security token is missing or stale; reload the page");
  } else if (!get) {
    return error(405, "method_not_allowed", "this route takes GET or POST");
  }
  auto needs = [&](AdminRole role, const char* what) -> std::optional<WebResponse> {
    if (role_at_least(cx.session->role, role)) return std::nullopt;
    // Audited once a minute per session at most; the refusals after the
    // first are counted and written when the minute is over
    // (refusal_audit.h): a page left open cannot flood the audit log.
    RefusalActor actor{cx.session->account, admin_role_name(cx.session->role), cx.client};
    if (refusals_.refused(cx.session->id_hash, actor, what, d_.clock.monotonic_ms()) &&
        !audit(cx, "admin.access", "denied", what)) {
      refusals_.not_audited(cx.session->id_hash);
      return error(503, "audit_unavailable", "the audit log cannot record this now");
    }
    return error(403, "forbidden",
                 std::string("your role (") + admin_role_name(cx.session->role) + ") may not do this; ask an admin");
  };

  if (route == "logout" && seg.size() == 2 && post) return logout(cx);
  if (route == "password" && seg.size() == 2 && post) return change_password(cx);
  if (route == "session" && seg.size() == 2 && get) return session_info(cx);
  if (route == "overview" && seg.size() == 2 && get) return overview(cx);
  if (route == "calls" && seg.size() == 2 && get) return calls(cx, false);
  // An export is audited as done, and only a GET sends it (HEAD would record
  // an export that never happened).
  if ((route == "calls.csv" || route == "audit.csv") && seg.size() == 2 && req.method == "HEAD")
    return error(405, "method_not_allowed", "an export is downloaded with GET");
  if (route == "calls.csv" && seg.size() == 2 && get) return calls(cx, true);
  if (route == "calls" && seg.size() == 3 && get) return call(cx, seg[2]);
  if (route == "audit" && seg.size() == 2 && get) return audit_log(cx, false);
  if (route == "audit.csv" && seg.size() == 2 && get) return audit_log(cx, true);
  if (route == "conntest") {
    // Making and revoking patient links: operators and admins (the rest of the
    // connectivity page is anyone's).
    if (post && seg.size() >= 3 && seg[2] == "links")
      if (auto refused = needs(AdminRole::operator_, "test link action")) return std::move(*refused);
    return connectivity_.admin(req, *cx.session, cx.client, std::vector<std::string>(seg.begin() + 2, seg.end()));
  }
  if (route == "live" && seg.size() == 2 && get)
    return live_calls(d_.settings.signald_control, *cx.session, req.query("call"));
  if (route == "live" && seg.size() > 2 && post) {  // end a call, remove a participant (live_routes.h)
    if (auto refused = needs(AdminRole::operator_, "live call action")) return std::move(*refused);
    std::string target = seg[2];
    for (size_t i = 3; i < seg.size(); ++i) target += "/" + seg[i];
    return live_action(d_.settings.signald_control, *cx.session, cx.client, target, req.body);
  }
  if (route == "accounts") {
    if (auto refused = needs(AdminRole::admin, ("accounts " + req.method).c_str())) return std::move(*refused);
    if (seg.size() == 2 && get) return accounts(cx);
    if (seg.size() == 2 && post) return add_account(cx);
    if (seg.size() == 4 && post) return account_action(cx, seg[2], seg[3]);
  }
  if (TurnSettingsApi::routes(route)) {
    if (auto refused = needs(AdminRole::admin, (route + " " + req.method).c_str())) return std::move(*refused);
    return turn_settings_.handle(seg, req, cx.session->account,
                                 [&](const std::string& action, const std::string& outcome, const std::string& detail) {
                                   return outbox_.has_room() && audit(cx, action, outcome, detail);
                                 });
  }
  return error(404, "not_found", "no such route");
}

WebResponse AdminApi::login(Context& cx) {
  WebRequest& req = cx.req;
  if (!origin_ok(req)) return error(403, "origin_refused", "this request did not come from the admin page");
  std::string problem;
  JsonPtr body = body_object(req, &problem);
  if (!body) return error(400, "validation", problem);
  std::string name = field(body.get(), "name"), password = field(body.get(), "password"),
              code = field(body.get(), "code");
  std::string key = lower(typed_name(name));
  if (int64_t wait = d_.throttle.wait_seconds(key, cx.client)) {
    WebResponse r =
        error(429, "too_many_attempts", "too many failed logins; try again in " + std::to_string(wait) + " seconds");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  LoginFailure why{};
  auto account = accounts_.check_login(name, password, code, &why);
  if (!account) {
    if (account.error().code == "db_error") return error(503, "admin_db", account.error().message);
    // A missing second factor after a right password is a step, not a failure.
    if (why != LoginFailure::totp_required) d_.throttle.failed(key, cx.client);
    bool kept = audit(cx, why == LoginFailure::totp_required ? "admin.login.totp_asked" : "admin.login", "denied",
                      login_failure_name(why), std::nullopt, typed_name(name));
    if (!kept) return error(503, "audit_unavailable", "the audit log cannot record logins now; try again later");
    return error(401, account.error().code, account.error().message);
  }
  d_.throttle.succeeded(key);
  auto made = sessions_.create(account->name, cx.client);
  if (!made) return error(503, "admin_db", made.error().message);
  cx.session = Session{session_id_hash(made->id), account->name,    account->role, made->csrf,
                       d_.clock.now_ms(),         d_.clock.now_ms()};
  if (!audit(cx, "admin.login", "ok", "logged in")) {
    sessions_.end(*cx.session);
    return error(503, "audit_unavailable", "the audit log cannot record logins now; try again later");
  }
  JsonPtr out(json_object());
  json_put(out.get(), "account", json_str(account->name));
  json_put(out.get(), "role", json_str(admin_role_name(account->role)));
  json_put(out.get(), "csrf", json_str(made->csrf));
  WebResponse r = json_response(200, out.get());
  r.headers.emplace_back("Set-Cookie", session_cookie(made->id));
  return r;
}

WebResponse AdminApi::logout(Context& cx) {
  sessions_.end(*cx.session);
  audit(cx, "admin.logout", "ok", "logged out");
  WebResponse r = json_response(200, JsonPtr(json_object()).get());
  r.headers.emplace_back("Set-Cookie", clear_cookie());
  return r;
}

WebResponse AdminApi::change_password(Context& cx) {
  std::string problem;
  JsonPtr body = body_object(cx.req, &problem);
  if (!body) return error(400, "validation", problem);
  std::string current = field(body.get(), "current"), next = field(body.get(), "new");
  // Guessing the current password from a session is throttled like a login.
  if (int64_t wait = d_.throttle.wait_seconds(cx.session->account, cx.client)) {
    WebResponse r =
        error(429, "too_many_attempts", "too many wrong passwords; try again in " + std::to_string(wait) + " seconds");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  if (!accounts_.password_matches(cx.session->account, current)) {
    d_.throttle.failed(cx.session->account, cx.client);
    audit(cx, "account.password", "denied", "the current password was wrong");
    return error(403, "bad_credentials", "the current password is wrong");
  }
  if (auto ok = check_password_policy(cx.session->account, next); !ok)
    return error(400, ok.error().code, ok.error().message);
  if (!outbox_.has_room()) return error(503, "audit_unavailable", "the audit log cannot record this now");
  auto set = accounts_.set_password(cx.session->account, next);  // ends every session, this one too
  if (!set) return error(set.error().code == "weak_password" ? 400 : 503, set.error().code, set.error().message);
  audit(cx, "account.password", "ok", "changed own password; every session of the account ended");
  WebResponse r = json_response(200, JsonPtr(json_object()).get());
  r.headers.emplace_back("Set-Cookie", clear_cookie());
  return r;
}

WebResponse AdminApi::session_info(Context& cx) {
  JsonPtr out(json_object());
  const Session& s = *cx.session;
  json_put(out.get(), "account", json_str(s.account));
  json_put(out.get(), "role", json_str(admin_role_name(s.role)));
  json_put(out.get(), "csrf", json_str(s.csrf));
  json_put(out.get(), "idleTimeoutSeconds", json_integer(sessions_.options().idle_s));
  json_put(out.get(), "expiresAt", json_integer(s.created_at + sessions_.options().absolute_s * 1000));
  json_put(out.get(), "lastSeenAt", json_integer(s.last_seen_at));
  int64_t now = d_.clock.now_ms();
  json_put(out.get(), "timeZone", json_str(local_time_zone_name(now)));
  // The IANA name alone, for the browser's Intl.DateTimeFormat.
  std::string zone = local_time_zone_name(now);
  json_put(out.get(), "timeZoneId", json_str(zone.substr(0, zone.find(' '))));
  json_put(out.get(), "utcOffsetMinutes", json_integer([now] {
             time_t t = static_cast<time_t>(now / 1000);
             tm local{};
             localtime_r(&t, &local);
             return static_cast<json_int_t>(local.tm_gmtoff / 60);
           }()));
  return json_response(200, out.get());
}

WebResponse AdminApi::overview(Context& cx) {
  ApplianceStatus st = collect_status(d_.settings.status, d_.call_log, d_.clock);
  int64_t waiting = outbox_.size();
  // A record normally leaves within a second; flag the outbox when delivery
  // failed or a record has waited longer than that.
  std::string ship_error = d_.shipper ? d_.shipper->last_error() : std::string("no local channel configured");
  int64_t oldest = outbox_.oldest_stored_at();
  if (waiting > 0 && (!ship_error.empty() || d_.clock.now_ms() - oldest > 30000))
    add_problem(st, {"warning",
                     std::to_string(waiting) + " admin audit record(s) wait in admin.db for signald's local channel" +
                         (ship_error.empty() ? "" : " (" + ship_error + ")"),
                     "check that vytal-signald runs and VYTAL_SIGNALD_CONTROL_SOCKET names the same socket in both"});
  int64_t refused = outbox_.refused();
  if (refused > 0)
    add_problem(st, {"warning",
                     std::to_string(refused) +
                         " admin audit record(s) were refused by signald and are kept in admin.db, not in the call log",
                     "sqlite3 admin.db 'SELECT seq, reason, entry FROM audit_refused' in the data directory shows them "
                     "with signald's reason; keep them with the appliance's records"});
  JsonPtr out = status_to_json(st);
  json_put(out.get(), "needsAttention", json_boolean(st.needs_attention()));
  json_put(out.get(), "auditOutbox", json_integer(waiting));
  json_put(out.get(), "auditRefused", json_integer(refused));
  return json_response(200, out.get());
}

WebResponse AdminApi::calls(Context& cx, bool csv) {
  WebRequest& req = cx.req;
  CallSearch f;
  std::string bad;
  if (!time_param(req, "from", &f.from, &bad) || !time_param(req, "to", &f.to, &bad) ||
      !limit_param(req, &f.limit, &bad))
    return error(400, "validation", bad);
  f.status = param(req, "status");
  if (f.status && !parse_call_status(*f.status)) return error(400, "validation", "status is not a call status");
  f.call_id = param(req, "callId");
  if (f.call_id && !is_uuid(*f.call_id)) return error(400, "validation", "callId must be a call's UUID");
  f.patient_id = param(req, "patientId");
  f.provider_id = param(req, "providerId");
  if ((f.patient_id && !is_printable_id(*f.patient_id)) || (f.provider_id && !is_printable_id(*f.provider_id)))
    return error(400, "validation", "patientId and providerId are ids of at most 128 characters");
  if (auto c = param(req, "cursor")) {
    f.before = decode_cursor(*c);
    if (!f.before) return error(400, "validation", "cursor is not one this server issued");
  }
  if (csv) {
    auto stream = calls_csv(d_.settings.call_log_path, f);
    if (!stream) return error(503, "call_log", stream.error().message);
    if (!audit(cx, "admin.export.calls", "ok",
               describe_filter(req, {"from", "to", "status", "callId", "patientId", "providerId"})))
      return error(503, "audit_unavailable", "the audit log cannot record this export now");
    WebResponse r;
    r.content_type = "text/csv; charset=utf-8";
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"vytalwatch-calls.csv\"");
    r.stream = std::move(stream.value());
    return r;
  }
  auto out = search_calls(d_.call_log, f);
  if (!out) return error(503, "call_log", out.error().message);
  return json_response(200, out.value().get());
}

WebResponse AdminApi::call(Context& cx, const std::string& id) {
  if (!is_uuid(id)) return error(404, "call_not_found", "no call with this id");
  auto out = call_detail(d_.call_log, id);
  if (!out) return error(503, "call_log", out.error().message);
  if (!out.value()) return error(404, "call_not_found", "no call with this id");
  return json_response(200, out.value()->get());
}

WebResponse AdminApi::audit_log(Context& cx, bool csv) {
  WebRequest& req = cx.req;
  AuditSearch f;
  std::string bad;
  if (!time_param(req, "from", &f.from, &bad) || !time_param(req, "to", &f.to, &bad) ||
      !limit_param(req, &f.limit, &bad))
    return error(400, "validation", bad);
  f.actor = param(req, "actor");
  f.action = param(req, "action");
  f.call_id = param(req, "callId");
  if ((f.actor && !is_printable_id(*f.actor)) || (f.action && !is_printable_id(*f.action)))
    return error(400, "validation", "actor and action are at most 128 characters");
  if (f.call_id && !is_uuid(*f.call_id)) return error(400, "validation", "callId must be a call's UUID");
  if (auto c = param(req, "cursor")) {
    f.before = decode_cursor(*c);
    if (!f.before) return error(400, "validation", "cursor is not one this server issued");
  }
  if (csv) {
    auto stream = audit_csv(d_.settings.call_log_path, f);
    if (!stream) return error(503, "call_log", stream.error().message);
    if (!audit(cx, "admin.export.audit", "ok", describe_filter(req, {"from", "to", "actor", "action", "callId"})))
      return error(503, "audit_unavailable", "the audit log cannot record this export now");
    WebResponse r;
    r.content_type = "text/csv; charset=utf-8";
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"vytalwatch-audit.csv\"");
    r.stream = std::move(stream.value());
    return r;
  }
  auto out = search_audit(d_.call_log, f);
  if (!out) return error(503, "call_log", out.error().message);
  return json_response(200, out.value().get());
}

WebResponse AdminApi::accounts(Context&) {
  auto list = accounts_.list();
  if (!list) return error(503, "admin_db", list.error().message);
  JsonPtr out(json_object());
  json_t* arr = json_array();
  for (const Account& a : list.value()) {
    json_t* o = json_object();
    json_put(o, "name", json_str(a.name));
    json_put(o, "role", json_str(admin_role_name(a.role)));
    json_put(o, "disabled", json_boolean(a.disabled));
    json_put(o, "totp", json_boolean(a.totp_enabled));
    json_put(o, "recoveryCodesLeft", json_integer(a.recovery_codes_left));
    json_put(o, "createdAt", json_integer(a.created_at));
    json_put(o, "passwordChangedAt", json_integer(a.password_changed_at));
    json_put(o, "lastLoginAt", a.last_login_at ? json_integer(*a.last_login_at) : nullptr);
    json_array_append_new(arr, o);
  }
  json_put(out.get(), "accounts", arr);
  return json_response(200, out.get());
}

WebResponse AdminApi::add_account(Context& cx) {
  std::string problem;
  JsonPtr body = body_object(cx.req, &problem);
  if (!body) return error(400, "validation", problem);
  std::string name = lower(field(body.get(), "name"));
  auto role = parse_admin_role(field(body.get(), "role"));
  if (!role) return error(400, "validation", "role must be viewer, operator or admin");
  if (!is_account_name(name))
    return error(400, "invalid_name", "an account name is 1 to 64 of a-z, 0-9, '.', '_' and '-'");
  if (auto ok = check_password_policy(name, field(body.get(), "password")); !ok)
    return error(400, ok.error().code, ok.error().message);
  if (!outbox_.has_room()) return error(503, "audit_unavailable", "the audit log cannot record this now");
  auto added = accounts_.add(name, *role, field(body.get(), "password"));
  audit(cx, "account.add", added ? "ok" : "failed",
        added ? "added " + name + " as " + admin_role_name(*role) : name + ": " + added.error().code);
  if (!added) {
    int status = added.error().code == "account_exists" ? 409 : added.error().code == "db_error" ? 503 : 400;
    return error(status, added.error().code, added.error().message);
  }
  JsonPtr out(json_object());
  json_put(out.get(), "name", json_str(added->name));
  json_put(out.get(), "role", json_str(admin_role_name(added->role)));
  return json_response(201, out.get());
}

WebResponse AdminApi::account_action(Context& cx, const std::string& raw_name, const std::string& action) {
  std::string name = lower(raw_name);
  if (action != "disable" && action != "reset-totp") return error(404, "not_found", "no such action");
  if (!is_account_name(name)) return error(404, "no_such_account", "no such account");
  if (action == "disable" && name == cx.session->account)
    return error(409, "own_account", "you cannot disable your own account; another admin can");
  std::string what = action == "disable" ? "account.disable" : "account.reset_totp";
  if (!outbox_.has_room()) return error(503, "audit_unavailable", "the audit log cannot record this now");
  auto done = action == "disable" ? accounts_.disable(name) : accounts_.disable_totp(name);
  audit(cx, what, done ? "ok" : "failed", done ? name : name + ": " + done.error().code);
  if (!done) {
    int status = done.error().code == "no_such_account" ? 404 : done.error().code == "db_error" ? 503 : 409;
    return error(status, done.error().code, done.error().message);
  }
  return json_response(200, JsonPtr(json_object()).get());
}

}  // namespace vytal
