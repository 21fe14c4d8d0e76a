#include "admin_ui/connectivity_api.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "admin_ui/api_responses.h"
#include "admin_ui/web_assets.h"
#include "call_log/audit_record.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/key_ring.h"
#include "common/log.h"
#include "common/time_format.h"
#include "common/turn_credentials.h"

namespace vytal {
namespace {

constexpr size_t kMaxServers = 8;
// Refused link requests per address: ten, then one every six seconds.
constexpr double kRefusalsPerS = 1.0 / 6;
// The public page's files: nothing else of the admin page is served there.
constexpr const char* kPublicAssets[] = {"network-test.js", "connectivity-test.js", "dom.js", "style.css",
                                         "favicon.svg"};

// Text from the browser made safe to keep and show: printable, bounded.
std::string clean_text(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return out;
}

// "203.0.113.10", "203.0.113.10:3478", "[2001:db8::1]:3478" or "2001:db8::1"
// -> the same text when it is an address (with an optional port); else empty.
std::string checked_address(std::string_view s) {
  if (s.size() > 64) return {};
  std::string host(s);
  std::string port;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return {};
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return {};
      port = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    port = host.substr(host.find(':') + 1);
    host.resize(host.find(':'));
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) != 1 && inet_pton(AF_INET6, host.c_str(), buf) != 1) return {};
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) || std::stoi(port) > 65535) return {};
  }
  return std::string(s);
}

json_t* bounded_number(const json_t* j, const char* key, double max) {
  const json_t* v = json_object_get(j, key);
  if (!v || !json_is_number(v)) return json_null();
  double d = json_number_value(v);
  if (!std::isfinite(d) || d < 0) return json_null();
  return json_real(std::round(std::min(d, max) * 100) / 100);
}

bool flag(const json_t* j, const char* key) { return json_is_true(json_object_get(j, key)); }

// The browser's result, rebuilt field by field: only what the page shows,
// checked and bounded, one entry per TURN URL the run was given.
JsonPtr normalize_result(const json_t* in, const json_t* servers, std::string* problem) {
  const json_t* transports = json_object_get(in, "transports");
  if (!json_is_array(transports)) {
    *problem = "transports must be an array";
    return nullptr;
  }
  JsonPtr out(json_object());
  json_t* list = json_array();
  json_put(out.get(), "transports", list);
  size_t i;
  const json_t* server;
  json_array_foreach(servers, i, server) {
    const char* id = json_string_value(json_object_get(server, "id"));
    const json_t* found = nullptr;
    size_t k;
    const json_t* t;
    json_array_foreach(transports, k, t) {
      if (json_is_object(t) && json_is_string(json_object_get(t, "id")) &&
          std::strcmp(json_string_value(json_object_get(t, "id")), id) == 0)
        found = t;
    }
    json_t* o = json_object();
    json_put(o, "id", json_str(id));
    if (!found) {
      json_put(o, "reachable", json_false());
      json_put(o, "tested", json_false());
      json_array_append_new(list, o);
      continue;
    }
    json_put(o, "tested", json_true());
    json_put(o, "reachable", json_boolean(flag(found, "reachable")));
    json_put(o, "timedOut", json_boolean(flag(found, "timedOut")));
    json_put(o, "firstRelayMs", bounded_number(found, "firstRelayMs", 120000));
    for (const char* key : {"relayAddress", "mappedAddress"}) {
      auto v = json_string_field(found, key);
      std::string a = v ? checked_address(*v) : std::string();
      json_put(o, key, a.empty() ? json_null() : json_str(a));
    }
    json_t* errors = json_array();
    const json_t* errs = json_object_get(found, "errors");
    size_t e;
    const json_t* err;
    if (json_is_array(errs)) json_array_foreach(errs, e, err) {
        if (e >= 5 || !json_is_object(err)) break;
        json_t* x = json_object();
        auto code = json_integer_field(err, "code");
        json_put(x, "code", code && *code >= 0 && *code < 1000 ? json_integer(*code) : json_null());
        json_put(x, "text", json_str(clean_text(json_string_field(err, "text").value_or(""), 200)));
        json_put(x, "address", json_str(checked_address(json_string_field(err, "address").value_or(""))));
        json_array_append_new(errors, x);
      }
    json_put(o, "errors", errors);
    json_array_append_new(list, o);
  }
  const json_t* lb = json_object_get(in, "loopback");
  json_t* loop = json_object();
  if (json_is_object(lb)) {
    json_put(loop, "tested", json_true());
    json_put(loop, "ok", json_boolean(flag(lb, "ok")));
    std::string proto(json_string_field(lb, "relayProtocol").value_or(""));
    json_put(loop, "relayProtocol", proto == "udp" || proto == "tcp" || proto == "tls" ? json_str(proto) : json_null());
    json_put(loop, "rttMs", bounded_number(lb, "rttMs", 60000));
    json_put(loop, "lossPercent", bounded_number(lb, "lossPercent", 100));
    json_put(loop, "throughputKbps", bounded_number(lb, "throughputKbps", 10000000));
    json_put(loop, "seconds", bounded_number(lb, "seconds", 120));
    auto e = json_string_field(lb, "error");
    json_put(loop, "error", e ? json_str(clean_text(*e, 200)) : json_null());
  } else {
    json_put(loop, "tested", json_false());
    json_put(loop, "ok", json_false());
  }
  json_put(out.get(), "loopback", loop);
  return out;
}

// "reached UDP 3478, TCP 3478; not reached TLS 443" for the audit log.
std::string summary(const json_t* result, const json_t* servers) {
  std::string yes, no;
  size_t i;
  const json_t* t;
  json_array_foreach(json_object_get(result, "transports"), i, t) {
    const json_t* s = json_array_get(servers, i);
    std::string name = std::string(json_string_value(json_object_get(s, "transport"))) + " " +
                       std::to_string(json_integer_value(json_object_get(s, "port")));
    std::string& into = json_is_true(json_object_get(t, "reachable")) ? yes : no;
    into += (into.empty() ? "" : ", ") + name;
  }
  return "reached: " + (yes.empty() ? std::string("none") : yes) + "; not reached: " + (no.empty() ? "none" : no);
}

json_t* server_json(const TestServer& s) {
  json_t* o = json_object();
  json_put(o, "id", json_str(s.id));
  json_put(o, "url", json_str(s.url));
  json_put(o, "transport", json_str(s.transport));
  json_put(o, "port", json_integer(s.port));
  json_put(o, "offered", json_boolean(s.offered));
  json_put(o, "label", json_str(s.label));
  return o;
}

json_t* opt_int(const std::optional<int64_t>& v) { return v ? json_integer(*v) : json_null(); }
json_t* opt_str(const std::optional<std::string>& v) { return v ? json_str(*v) : json_null(); }

const char* link_state(const TestLink& l, int64_t now_ms) {
  if (l.revoked_at) return "revoked";
  if (now_ms >= l.expires_at) return "expired";
  if (l.runs >= ConnectivityApi::kMaxRunsPerLink) return "used_up";
  return "active";
}

json_t* link_json(const TestLink& l, int64_t now_ms) {
  json_t* o = json_object();
  json_put(o, "id", json_str(l.id));
  json_put(o, "label", json_str(l.label));
  json_put(o, "createdBy", json_str(l.created_by));
  json_put(o, "createdAt", json_integer(l.created_at));
  json_put(o, "expiresAt", json_integer(l.expires_at));
  json_put(o, "revokedAt", opt_int(l.revoked_at));
  json_put(o, "revokedBy", opt_str(l.revoked_by));
  json_put(o, "runs", json_integer(l.runs));
  json_put(o, "maxRuns", json_integer(ConnectivityApi::kMaxRunsPerLink));
  json_put(o, "lastUsedAt", opt_int(l.last_used_at));
  json_put(o, "state", json_str(link_state(l, now_ms)));
  return o;
}

json_t* run_json(const TestRun& r) {
  json_t* o = json_object();
  json_put(o, "id", json_str(r.id));
  json_put(o, "source", json_str(r.source));
  json_put(o, "actor", json_str(r.actor));
  json_put(o, "linkId", opt_str(r.link_id));
  json_put(o, "clientAddress", json_str(r.client_addr));
  json_put(o, "userAgent", json_str(r.user_agent));
  json_put(o, "startedAt", json_integer(r.started_at));
  json_put(o, "finishedAt", opt_int(r.finished_at));
  std::string err;
  JsonPtr servers = json_parse(r.servers, &err);
  json_put(o, "servers", servers ? json_incref(servers.get()) : json_array());
  JsonPtr result = r.result ? json_parse(*r.result, &err) : nullptr;
  json_put(o, "result", result ? json_incref(result.get()) : json_null());
  return o;
}

bool is_hex(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c));
         });
}

}  // namespace

ConnectivitySettings read_connectivity_settings(const Config& config) {
  ConnectivitySettings s;
  s.turn_urls = config.list("WEBRTC_TURN_SERVERS");
  s.turn_secret = config.str("TURN_SHARED_SECRET");
  s.keyring_path = config.str("VYTAL_TURN_KEYRING_FILE");
  s.ttl_s = std::min(config.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400), ConnectivityApi::kCredentialTtlS);
  s.tls_port = static_cast<int>(config.integer("VYTAL_TURN_TLS_PORT", 1, 65535));
  s.tls_enabled = config.is_set("VYTAL_TURN_CERT_FILE");
  return s;
}

std::vector<TestServer> connectivity_test_servers(const ConnectivitySettings& settings) {
  std::vector<TestServer> out;
  std::string tls_name;
  for (const std::string& url : settings.turn_urls) {
    if (out.size() == kMaxServers) break;
    bool tls = url.rfind("turns:", 0) == 0;
    if (!tls && url.rfind("turn:", 0) != 0) continue;
    std::string rest = url.substr(tls ? 6 : 5);
    std::string query;
    if (size_t q = rest.find('?'); q != std::string::npos) {
      query = rest.substr(q + 1);
      rest.resize(q);
    }
    std::string host = rest;
    int port = tls ? 5349 : 3478;
    if (!rest.empty() && rest[0] == '[') {
      size_t close = rest.find(']');
      if (close == std::string::npos) continue;
      host = rest.substr(0, close + 1);
      if (close + 2 < rest.size() && rest[close + 1] == ':') port = std::atoi(rest.c_str() + close + 2);
    } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
      host = rest.substr(0, colon);
      port = std::atoi(rest.c_str() + colon + 1);
    }
    if (host.empty() || port <= 0 || port > 65535) continue;
    TestServer s;
    s.url = url;
    s.port = port;
    s.transport = tls ? "tls" : query == "transport=tcp" ? "tcp" : "udp";
    if (tls) {
      if (tls_name.empty() && host[0] != '[' && !std::isdigit(static_cast<unsigned char>(host.back()))) tls_name = host;
      s.label = "TURN over TLS on port " + std::to_string(port) + (port == 443 ? " (through nginx, by name)" : "");
    } else {
      s.label = std::string("TURN over ") + (s.transport == "tcp" ? "TCP" : "UDP") + " on port " + std::to_string(port);
    }
    if (host[0] == '[') s.label += " (IPv6)";
    out.push_back(std::move(s));
  }
  bool tls_port_listed = std::any_of(
      out.begin(), out.end(), [&](const TestServer& s) { return s.transport == "tls" && s.port == settings.tls_port; });
  if (settings.tls_enabled && !tls_name.empty() && !tls_port_listed && out.size() < kMaxServers) {
    TestServer s;
    s.url = "turns:" + tls_name + ":" + std::to_string(settings.tls_port) + "?transport=tcp";
    s.transport = "tls";
    s.port = settings.tls_port;
    s.offered = false;
    s.label = "TURN over TLS on port " + std::to_string(settings.tls_port) + " (direct; not offered to clients)";
    out.push_back(std::move(s));
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].id = "s" + std::to_string(i + 1);
  return out;
}

ConnectivityApi::ConnectivityApi(ConnectivitySettings settings, const Clock& clock, sqlite3* admin_db,
                                 AuditOutbox& outbox, AuditShipper* shipper)
    : settings_(std::move(settings)), clock_(clock), store_(admin_db, clock), outbox_(outbox), shipper_(shipper) {}

bool ConnectivityApi::audit(const std::string& actor, const std::string& role, const std::string& action,
                            const std::string& outcome, const std::string& client, const std::string& detail) {
  auto added = outbox_.add(make_audit_record(clock_, actor, role, action, outcome, client, detail));
  if (!added) {
    LOG_ERROR("vytal-admin: audit record %s for %s not kept: %s", action.c_str(), actor.c_str(),
              added.error().message.c_str());
    return false;
  }
  if (shipper_) shipper_->wake();
  return true;
}

bool ConnectivityApi::take(std::unordered_map<std::string, Bucket>& table, const std::string& key, double burst,
                           double per_s, bool consume) {
  int64_t now = clock_.monotonic_ms();
  if (table.size() > 10000) table.clear();  // bounded; forgetting only lets a few more through
  auto [it, fresh] = table.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst, b.tokens + (now - b.at_ms) / 1000.0 * per_s);
  b.at_ms = now;
  if (b.tokens < 1) return false;
  if (consume) b.tokens -= 1;
  return true;
}

// ---- logged in --------------------------------------------------------------

WebResponse ConnectivityApi::admin(WebRequest& req, const Session& session, const std::string& client,
                                   const std::vector<std::string>& seg) {
  const bool get = req.method == "GET" || req.method == "HEAD", post = req.method == "POST";
  if (seg.empty() && get) return overview();
  if (seg.size() == 1 && seg[0] == "latest" && get) return latest();
  if (seg.size() == 1 && seg[0] == "start" && post) {
    if (!audit(session.account, admin_role_name(session.role), "conntest.run", "ok", client,
               "started a connectivity test from the admin page"))
      return error(503, "audit_unavailable", "the audit log cannot record this now");
    return start(req, "admin", session.account, std::nullopt, client);
  }
  if (seg.size() == 2 && seg[0] == "runs" && post) {
    auto run = store_.find_run(seg[1]);
    if (!run) return error(503, "admin_db", run.error().message);
    if (!run.value() || run.value()->source != "admin" || run.value()->actor != session.account)
      return error(404, "no_such_run", "no test run of yours with this id");
    return finish(req, seg[1], session.account, client, false);
  }
  // Making and revoking links needs an operator: AdminApi checks (and audits) that.
  if (seg.size() == 1 && seg[0] == "links" && post) return add_link(req, session, client);
  if (seg.size() == 3 && seg[0] == "links" && seg[2] == "revoke" && post) return revoke_link(seg[1], session, client);
  return error(404, "not_found", "no such route");
}

WebResponse ConnectivityApi::overview() {
  JsonPtr out(json_object());
  json_t* servers = json_array();
  for (const TestServer& s : connectivity_test_servers(settings_)) json_array_append_new(servers, server_json(s));
  json_put(out.get(), "servers", servers);
  auto runs = store_.runs(20);
  if (!runs) return error(503, "admin_db", runs.error().message);
  auto links = store_.links(50);
  if (!links) return error(503, "admin_db", links.error().message);
  json_t* run_list = json_array();
  for (const TestRun& r : runs.value()) json_array_append_new(run_list, run_json(r));
  json_put(out.get(), "runs", run_list);
  int64_t now = clock_.now_ms();
  json_t* link_list = json_array();
  for (const TestLink& l : links.value()) json_array_append_new(link_list, link_json(l, now));
  json_put(out.get(), "links", link_list);
  json_put(out.get(), "publicPath", json_str(std::string("/") + kPublicTestPath + "/"));
  json_put(out.get(), "defaultLinkHours", json_integer(kDefaultLinkHours));
  json_put(out.get(), "maxLinkHours", json_integer(kMaxLinkHours));
  return json_response(200, out.get());
}

WebResponse ConnectivityApi::latest() {
  auto run = store_.latest_finished();
  if (!run) return error(503, "admin_db", run.error().message);
  JsonPtr out(json_object());
  json_t* ports = json_array();
  if (run.value()) {
    std::string err;
    JsonPtr servers = json_parse(run.value()->servers, &err);
    JsonPtr result = json_parse(*run.value()->result, &err);
    size_t i;
    const json_t* s;
    if (servers && result) json_array_foreach(servers.get(), i, s) {
        const json_t* t = json_array_get(json_object_get(result.get(), "transports"), i);
        json_t* o = json_object();
        for (const char* key : {"transport", "port", "url", "label"})
          json_put(o, key, json_incref(json_object_get(s, key)));
        json_put(o, "reached", json_boolean(json_is_true(json_object_get(t, "reachable"))));
        json_array_append_new(ports, o);
      }
    json_put(out.get(), "run", run_json(*run.value()));
  } else {
    json_put(out.get(), "run", json_null());
  }
  json_put(out.get(), "ports", ports);
  return json_response(200, out.get());
}

WebResponse ConnectivityApi::start(WebRequest& req, const std::string& source, const std::string& actor,
                                   const std::optional<TestLink>& link, const std::string& client) {
  std::vector<TestServer> servers = connectivity_test_servers(settings_);
  if (servers.empty())
    return error(409, "no_turn_urls", "the appliance offers no TURN URL (WEBRTC_TURN_SERVERS is empty)");
  std::string secret = settings_.turn_secret;
  if (!settings_.keyring_path.empty()) {
    std::string err;
    auto ring = read_key_ring(settings_.keyring_path, &err);
    if (!ring) return error(503, "turn_keyring", "the TURN key ring cannot be read: " + err);
    secret = ring->current;
  }
  if (secret.empty())
    return error(409, "no_turn_secret",
                 "TURN credentials need the key ring (VYTAL_TURN_KEYRING_FILE) or TURN_SHARED_SECRET");

  int64_t now = clock_.now_ms();
  TestRun run;
  run.id = uuid_v7(now);
  run.source = source;
  run.actor = actor;
  if (link) run.link_id = link->id;
  run.client_addr = client;
  const char* ua = req.header("User-Agent");
  run.user_agent = clean_text(ua ? ua : "", 200);
  JsonPtr list(json_array());
  for (const TestServer& s : servers) json_array_append_new(list.get(), server_json(s));
  run.servers = json_dump(list.get());
  run.started_at = now;
  auto added = store_.add_run(run);
  if (!added) return error(503, "admin_db", added.error().message);

  // A TURN user of the run's own (a link's: of the link's), so the TURN
  // server's per-user quota bounds what one test can hold.
  std::string user = "nettest-" + (link ? "link-" + link->id : run.id.substr(run.id.size() - 12));
  TurnCredential c = mint_turn_credential(secret, user, clock_.now_s(), settings_.ttl_s);
  JsonPtr out(json_object());
  json_put(out.get(), "runId", json_str(run.id));
  json_put(out.get(), "servers", json_incref(list.get()));
  json_put(out.get(), "username", json_str(c.username));
  json_put(out.get(), "credential", json_str(c.credential));
  json_put(out.get(), "expiresAt", json_integer(c.expires_at_s * 1000));
  json_put(out.get(), "clientAddress", json_str(client));
  if (link) {
    json_put(out.get(), "label", json_str(link->label));
    json_put(out.get(), "linkExpiresAt", json_integer(link->expires_at));
  }
  return json_response(200, out.get());
}

WebResponse ConnectivityApi::finish(WebRequest& req, const std::string& run_id, const std::string& actor,
                                    const std::string& client, bool audit_it) {
  std::string problem;
  JsonPtr body = body_object(req, &problem);
  if (!body) return error(400, "validation", problem);
  auto run = store_.find_run(run_id);
  if (!run) return error(503, "admin_db", run.error().message);
  if (!run.value()) return error(404, "no_such_run", "no test run with this id");
  if (run.value()->result) return error(409, "run_finished", "this run already has its result");
  std::string err;
  JsonPtr servers = json_parse(run.value()->servers, &err);
  if (!servers) return error(503, "admin_db", "the run's TURN URLs are damaged");
  JsonPtr result = normalize_result(body.get(), servers.get(), &problem);
  if (!result) return error(400, "validation", problem);
  json_put(result.get(), "clientAddress", json_str(client));
  if (audit_it && !audit(actor, "none", "conntest.link.result", "ok", client,
                         "test link run " + run_id + ": " + summary(result.get(), servers.get())))
    return error(503, "audit_unavailable", "the audit log cannot record this now");
  auto done = store_.finish_run(run_id, json_dump(result.get()));
  if (!done) return error(503, "admin_db", done.error().message);
  if (!done.value()) return error(409, "run_finished", "this run already has its result");
  JsonPtr out(json_object());
  json_put(out.get(), "runId", json_str(run_id));
  json_put(out.get(), "result", json_incref(result.get()));
  return json_response(200, out.get());
}

std::string ConnectivityApi::make_token(const std::string& id, int64_t expires_s, const std::string& key) const {
  std::string signed_part = "v1." + id + "." + std::to_string(expires_s);
  return signed_part + "." + base64url_encode(hmac_sha256(key, "vytal-conntest-link:" + signed_part));
}

WebResponse ConnectivityApi::add_link(WebRequest& req, const Session& session, const std::string& client) {
  std::string problem;
  JsonPtr body = body_object(req, &problem);
  if (!body) return error(400, "validation", problem);
  std::string label = clean_text(json_string_field(body.get(), "label").value_or(""), 200);
  if (label.size() > 80) return error(400, "validation", "label: at most 80 characters");
  if (label.empty())
    return error(400, "validation", "label: say who the link is for (a clinic's name), 1 to 80 characters");
  // Lifetime: "hours" (1 to kMaxLinkHours, default kDefaultLinkHours) or
  // "minutes" (at least 1) for a link meant for the next few minutes.
  int64_t seconds = kDefaultLinkHours * 3600;
  const json_t* h = json_object_get(body.get(), "hours");
  const json_t* m = json_object_get(body.get(), "minutes");
  if (h && !json_is_null(h)) {
    if (!json_is_integer(h) || json_integer_value(h) < 1 || json_integer_value(h) > kMaxLinkHours)
      return error(400, "validation", "hours: a whole number from 1 to " + std::to_string(kMaxLinkHours));
    seconds = json_integer_value(h) * 3600;
  } else if (m && !json_is_null(m)) {
    if (!json_is_integer(m) || json_integer_value(m) < 1 || json_integer_value(m) > kMaxLinkHours * 60)
      return error(400, "validation", "minutes: a whole number from 1 to " + std::to_string(kMaxLinkHours * 60));
    seconds = json_integer_value(m) * 60;
  }
  auto key = store_.link_key();
  if (!key) return error(503, "admin_db", key.error().message);
  if (!outbox_.has_room()) return error(503, "audit_unavailable", "the audit log cannot record this now");
  TestLink link;
  link.id = hex_encode(random_bytes(8));
  link.label = label;
  link.created_by = session.account;
  link.created_at = clock_.now_ms();
  int64_t expires_s = clock_.now_s() + seconds;
  link.expires_at = expires_s * 1000;
  auto added = store_.add_link(link);
  if (!added) return error(503, "admin_db", added.error().message);
  audit(session.account, admin_role_name(session.role), "conntest.link.create", "ok", client,
        "test link " + link.id + " for '" + label + "', valid until " + format_timestamp(link.expires_at));
  JsonPtr out(link_json(link, clock_.now_ms()));
  // The token is shown once, here; admin.db keeps only the link's id.
  std::string token = make_token(link.id, expires_s, key.value());
  json_put(out.get(), "token", json_str(token));
  json_put(out.get(), "path", json_str(std::string("/") + kPublicTestPath + "/#" + token));
  return json_response(201, out.get());
}

WebResponse ConnectivityApi::revoke_link(const std::string& id, const Session& session, const std::string& client) {
  if (!is_hex(id, 16)) return error(404, "no_such_link", "no test link with this id");
  if (!outbox_.has_room()) return error(503, "audit_unavailable", "the audit log cannot record this now");
  auto done = store_.revoke_link(id, session.account);
  if (!done) return error(503, "admin_db", done.error().message);
  if (!done.value()) {
    auto found = store_.find_link(id);
    if (found && found.value()) return error(409, "already_revoked", "this link was already revoked");
    return error(404, "no_such_link", "no test link with this id");
  }
  audit(session.account, admin_role_name(session.role), "conntest.link.revoke", "ok", client, "test link " + id);
  auto link = store_.find_link(id);
  if (!link || !link.value()) return error(503, "admin_db", "the link vanished");
  JsonPtr out(link_json(*link.value(), clock_.now_ms()));
  return json_response(200, out.get());
}

// ---- public: a clinic holding a link ------------------------------------------

ConnectivityApi::LinkCheck ConnectivityApi::check_token(const WebRequest& req) {
  std::string id;
  auto refuse = [&id](int status, const char* code, const char* message) {
    return LinkCheck{std::nullopt, id, status, code, message};
  };
  const char* auth = req.header("Authorization");
  std::string_view token =
      auth && strncasecmp(auth, "Bearer ", 7) == 0 ? std::string_view(auth + 7) : std::string_view();
  // v1.<16 hex>.<seconds>.<43 base64url>
  std::vector<std::string_view> parts;
  for (size_t i = 0; parts.size() < 5;) {
    size_t j = token.find('.', i);
    parts.push_back(token.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  if (token.size() > 128 || parts.size() != 4 || parts[0] != "v1" || !is_hex(parts[1], 16) || parts[2].empty() ||
      parts[2].size() > 12 || !std::all_of(parts[2].begin(), parts[2].end(), ::isdigit))
    return refuse(401, "link_invalid", "this test link is not valid: check that it was copied whole");
  auto key = store_.link_key();
  if (!key) return refuse(503, "admin_db", "the appliance cannot check test links now");
  int64_t expires_s = std::stoll(std::string(parts[2]));
  std::string expected = make_token(std::string(parts[1]), expires_s, key.value());
  if (!constant_time_equal(expected, token))
    return refuse(401, "link_invalid", "this test link is not valid: check that it was copied whole");
  id = std::string(parts[1]);
  if (clock_.now_s() >= expires_s) return refuse(410, "link_expired", "this test link has expired; ask for a new one");
  auto link = store_.find_link(std::string(parts[1]));
  if (!link) return refuse(503, "admin_db", "the appliance cannot check test links now");
  if (!link.value()) return refuse(410, "link_revoked", "this test link was withdrawn; ask for a new one");
  if (link.value()->revoked_at) return refuse(410, "link_revoked", "this test link was withdrawn; ask for a new one");
  return LinkCheck{link.value(), id, 200, "", ""};
}

WebResponse ConnectivityApi::public_route(WebRequest& req, const std::string& client,
                                          const std::vector<std::string>& seg) {
  const bool get = req.method == "GET" || req.method == "HEAD", post = req.method == "POST";
  if (seg.empty() || (seg.size() == 1 && !(seg[0] == "api"))) {  // the page and its files
    if (!get) return error(405, "method_not_allowed", "the page takes GET");
    if (seg.empty() && (req.path.empty() || req.path.back() != '/')) {
      WebResponse r;
      r.status = 301;
      r.headers.emplace_back("Location", std::string(kPublicTestPath) + "/");
      return r;
    }
    std::string name = seg.empty() ? "network-test.html" : seg[0];
    bool allowed = seg.empty() || std::any_of(std::begin(kPublicAssets), std::end(kPublicAssets),
                                              [&](const char* a) { return name == a; });
    const AdminAsset* asset = allowed ? find_admin_asset(name) : nullptr;
    if (!asset) return error(404, "not_found", "no such page");
    WebResponse r;
    r.content_type = asset->content_type;
    r.body.assign(asset->data, asset->size);
    return r;
  }
  if (seg[0] != "api" || !post || seg.size() < 2) return error(404, "not_found", "no such route");
  if (!take(refusals_, client, 10, kRefusalsPerS, false)) {
    WebResponse r = error(429, "too_many_requests", "too many refused requests from this address; wait a minute");
    r.headers.emplace_back("Retry-After", "60");
    return r;
  }
  LinkCheck check = check_token(req);
  const bool start_route = seg.size() == 2 && seg[1] == "start";
  const bool result_route = seg.size() == 3 && seg[1] == "runs";
  if (check.status == 200 && start_route && check.link->runs >= kMaxRunsPerLink) {
    check = LinkCheck{check.link, check.id, 429, "link_used_up",
                      "this test link was used " + std::to_string(kMaxRunsPerLink) + " times; ask for a new one"};
  }
  if (check.status != 200) {
    take(refusals_, client, 10, kRefusalsPerS, true);
    // Audited, at most once a minute per address: a flood cannot fill the audit log.
    int64_t now = clock_.monotonic_ms();
    if (check.status != 503) {
      auto [it, fresh] = refusal_audited_ms_.try_emplace(client, 0);
      if (fresh || now - it->second >= 60000) {
        if (refusal_audited_ms_.size() > 10000) refusal_audited_ms_.clear();
        it->second = now;
        audit(check.id.empty() ? "(none)" : "link:" + check.id, "none", "conntest.link.run", "denied", client,
              check.code);
      }
    }
    return error(check.status, check.code, check.message);
  }
  const TestLink& link = *check.link;
  if (start_route) {
    if (!take(public_starts_, "link:" + link.id, 1, 1.0 / kLinkRunIntervalS, true) ||
        !take(public_starts_, client, 5, 1.0 / 60, true)) {
      WebResponse r = error(429, "too_many_runs", "a test just ran with this link; wait a little and try again");
      r.headers.emplace_back("Retry-After", std::to_string(kLinkRunIntervalS));
      return r;
    }
    if (!audit("link:" + link.id, "none", "conntest.link.run", "ok", client,
               "test link '" + link.label + "' run by a clinic"))
      return error(503, "audit_unavailable", "the audit log cannot record this now");
    auto counted = store_.count_link_use(link.id);
    if (!counted) return error(503, "admin_db", counted.error().message);
    return start(req, "link", link.id, link, client);
  }
  if (result_route) {
    auto run = store_.find_run(seg[2]);
    if (!run) return error(503, "admin_db", run.error().message);
    if (!run.value() || run.value()->link_id != link.id)
      return error(404, "no_such_run", "no test run of this link with this id");
    return finish(req, seg[2], "link:" + link.id, client, true);
  }
  return error(404, "not_found", "no such route");
}

}  // namespace vytal
