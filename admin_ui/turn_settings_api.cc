#include "admin_ui/turn_settings_api.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "admin_ui/api_responses.h"
#include "admin_ui/appliance_settings.h"
#include "admin_ui/apply_spool.h"
#include "call_log/audit_record.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/json.h"
#include "common/key_ring.h"
#include "common/log.h"
#include "turn_policy/relay_policy.h"

namespace vytal {
namespace {

constexpr int64_t kMaxOverlapS = 30 * 86400;  // as vytalctl rotate-turn-secret --overlap
constexpr size_t kShownRevocations = 200;

const char* env_lookup(const char* key) { return std::getenv(key); }

json_t* string_array(const std::vector<std::string>& items) {
  json_t* a = json_array();
  for (const std::string& s : items) json_array_append_new(a, json_str(s));
  return a;
}

json_t* ranges_json(const std::vector<PeerRange>& ranges) {
  json_t* a = json_array();
  for (const PeerRange& r : ranges) {
    json_t* o = json_object();
    json_put(o, "range", json_str(r.text));
    json_put(o, "why", json_str(r.why));
    json_array_append_new(a, o);
  }
  return a;
}

// {KEY: value|null} from the request body; false with *problem set otherwise.
bool read_changes(const json_t* body, std::map<std::string, std::optional<std::string>>* out, std::string* problem) {
  json_t* changes = json_object_get(body, "changes");
  if (!json_is_object(changes) || json_object_size(changes) == 0 || json_object_size(changes) > 32) {
    *problem = "changes must be an object of settings to change, {\"KEY\": \"value\"} (null drops the key)";
    return false;
  }
  const char* key;
  json_t* value;
  json_object_foreach(changes, key, value) {
    if (json_is_null(value))
      (*out)[key] = std::nullopt;
    else if (json_is_string(value))
      (*out)[key] = std::string(json_string_value(value));
    else {
      *problem = std::string(key) + ": the value must be text (or null to drop it)";
      return false;
    }
  }
  return true;
}

json_t* changes_json(const std::vector<SettingChange>& changes) {
  json_t* a = json_array();
  for (const SettingChange& c : changes) {
    json_t* o = json_object();
    json_put(o, "key", json_str(c.key));
    json_put(o, "before", json_str(c.before));
    json_put(o, "after", json_str(c.after));
    json_array_append_new(a, o);
  }
  return a;
}

std::string describe_changes(const std::vector<SettingChange>& changes) {
  std::string out;
  for (const SettingChange& c : changes)
    out += (out.empty() ? "" : "; ") + c.key + ": '" + std::string(utf8_prefix(c.before, 300)) + "' -> '" +
           std::string(utf8_prefix(c.after, 300)) + "'";
  return out;
}

WebResponse invalid(const Error& e) {
  int status = e.code == "settings_file" ? 503 : 400;
  return error(status, e.code, e.message, config_error_key(e.message));
}

}  // namespace

WebResponse TurnSettingsApi::handle(const std::vector<std::string>& seg, WebRequest& req, const std::string& actor,
                                    const Audit& audit) {
  const bool get = req.method == "GET" || req.method == "HEAD", post = req.method == "POST";
  const std::string& route = seg[1];
  std::string sub = seg.size() > 2 ? seg[2] : "";
  if (route == "apply" && seg.size() == 3 && get) return result(seg[2]);
  if (route == "settings" && seg.size() == 3 && post && sub == "preview") return preview(req);
  if (route == "settings" && seg.size() == 3 && post && sub == "apply") return apply(req, actor, audit);
  if (seg.size() > 3 || (route == "apply")) return error(404, "not_found", "no such route");
  // The rest reads the configuration as the files say now.
  std::optional<Config> config;
  try {
    config = Config::load(s_.config_files, env_lookup);
  } catch (const ConfigError& e) {
    return error(503, "configuration", std::string("the appliance's configuration cannot be read: ") + e.what(),
                 config_error_key(e.what()));
  }
  if (route == "turn" && seg.size() == 2 && get) return turn(*config);
  if (route == "turn" && sub == "check" && get) return check(req, *config);
  if (route == "turn" && sub == "rotate" && post) return rotate(req, *config, actor, audit);
  if (route == "settings" && seg.size() == 2 && get) return settings(*config);
  return error(404, "not_found", "no such route");
}

WebResponse TurnSettingsApi::turn(const Config& c) {
  JsonPtr out(json_object());
  int64_t now_ms = clock_.now_ms(), now_s = now_ms / 1000;

  json_t* ring = json_object();
  const std::string& ring_path = c.str("VYTAL_TURN_KEYRING_FILE");
  json_put(ring, "path", json_str(ring_path));
  json_put(ring, "defaultOverlapSeconds",
           json_integer(c.integer("VYTAL_TURN_ROTATION_OVERLAP_SECONDS", 0, kMaxOverlapS)));
  if (!ring_path.empty()) {
    // Ages and times only: no secret leaves this function.
    std::string err;
    auto kr = read_key_ring(ring_path, &err);
    struct stat sb {};
    if (!kr) {
      json_put(ring, "error", json_str(err));
    } else if (::stat(ring_path.c_str(), &sb) == 0) {
      // The time the current secret became current (older rings lack it:
      // the file's last change, which is the same unless edited by hand).
      int64_t since_ms =
          kr->current_since_s ? kr->current_since_s * 1000 : sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
      json_put(ring, "currentSince", json_integer(since_ms));
      json_put(ring, "currentAgeSeconds", json_integer((now_ms - since_ms) / 1000));
      if (!kr->previous.empty()) {
        json_t* prev = json_object();
        // The previous secret became previous at the last rotation.
        json_put(prev, "replacedAt", json_integer(since_ms));
        if (kr->previous_since_s) {
          json_put(prev, "since", json_integer(kr->previous_since_s * 1000));
          json_put(prev, "ageSeconds", json_integer(now_s - kr->previous_since_s));
        }
        json_put(prev, "acceptedUntil", json_integer(kr->previous_until_s * 1000));
        json_put(prev, "accepted", json_boolean(kr->previous_until_s > now_s));
        json_put(prev, "stopsInSeconds", json_integer(std::max<int64_t>(0, kr->previous_until_s - now_s)));
        json_put(ring, "previous", prev);
      }
    }
  }
  json_put(out.get(), "keyRing", ring);

  json_t* rev = json_object();
  const std::string& rev_path = c.str("VYTAL_TURN_REVOKED_FILE");
  json_put(rev, "path", json_str(rev_path));
  json_t* entries = json_array();
  int64_t count = 0;
  if (!rev_path.empty()) {
    std::ifstream f(rev_path);
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream ls(line);
      std::string who;
      long long until = 0;
      if (!(ls >> who >> until) || until <= now_s) continue;
      if (++count > static_cast<int64_t>(kShownRevocations)) continue;
      json_t* e = json_object();
      size_t at = who.find('@');
      json_put(e, "user", json_str(who.substr(0, at)));
      json_put(e, "callId", at == std::string::npos ? nullptr : json_str(who.substr(at + 1)));
      json_put(e, "until", json_integer(until * 1000));
      json_array_append_new(entries, e);
    }
  }
  json_put(rev, "inForce", json_integer(count));
  json_put(rev, "entries", entries);
  json_put(rev, "max", json_integer(c.integer("VYTAL_TURN_MAX_REVOCATIONS", 0, 10000000)));
  json_put(out.get(), "revocations", rev);

  json_t* q = json_object();
  json_put(q, "userQuota", json_integer(c.integer("VYTAL_TURN_USER_QUOTA", 1, 100000)));
  json_put(q, "totalQuota", json_integer(c.integer("VYTAL_TURN_TOTAL_QUOTA", 1, 10000000)));
  int64_t ttl = c.integer("TURN_CREDENTIAL_TTL_SECONDS", 60, 86400);
  json_put(q, "credentialTtlSeconds", json_integer(ttl));
  json_put(q, "maxCredentialTtlSeconds", json_integer(ttl + 60));
  json_put(out.get(), "quotas", q);

  json_t* ports = json_object();
  json_put(ports, "listenIps", string_array(c.list("VYTAL_TURN_LISTEN_IPS")));
  json_put(ports, "port", json_integer(c.integer("VYTAL_TURN_PORT", 1, 65535)));
  json_put(ports, "tlsPort", json_integer(c.integer("VYTAL_TURN_TLS_PORT", 1, 65535)));
  json_put(ports, "tls", json_boolean(c.is_set("VYTAL_TURN_CERT_FILE")));
  json_put(ports, "relayIps", string_array(c.list("VYTAL_TURN_RELAY_IPS")));
  json_put(ports, "externalIp", json_str(c.str("VYTAL_TURN_EXTERNAL_IP")));
  json_put(ports, "minPort", json_integer(c.integer("VYTAL_TURN_MIN_PORT", 1024, 65535)));
  json_put(ports, "maxPort", json_integer(c.integer("VYTAL_TURN_MAX_PORT", 1024, 65535)));
  json_put(ports, "realm", json_str(c.str("VYTAL_TURN_REALM")));
  json_put(ports, "turnUrls", string_array(c.list("WEBRTC_TURN_SERVERS")));
  json_put(ports, "stunUrls", string_array(c.list("WEBRTC_STUN_SERVERS")));
  json_put(out.get(), "ports", ports);

  try {
    RelayPolicy p = read_relay_policy(c);
    json_t* pol = json_object();
    json_put(pol, "denied", ranges_json(p.denied));
    json_put(pol, "allowed", ranges_json(p.allowed));
    json_put(pol, "relayPortsOnly", json_boolean(p.relay_peers_on_relay_ports));
    json_put(pol, "inCode",
             string_array({"loopback (127.0.0.0/8, ::1) and the unspecified address: refused by coturn itself",
                           "multicast and reserved (224.0.0.0 and above, ff00::/8): no-multicast-peers",
                           "IPv6 forms embedding IPv4 (::ffff:a.b.c.d, ::a.b.c.d, ::ffff:0:a.b.c.d, 64:ff9b::/96, "
                           "2002::/16): judged by the IPv4 rules too (patch 0002)",
                           "site-local fec0::/10 and NAT64 local use 64:ff9b:1::/48: refused (patch 0002)",
                           "the relay addresses: on the relay ports only (patch 0010)",
                           "an allowed range wins over a denied one; neither overrides the rules above"}));
    json_put(out.get(), "policy", pol);
  } catch (const ConfigError& e) {
    json_put(out.get(), "policyError", json_str(e.what()));
  }
  return json_response(200, out.get());
}

WebResponse TurnSettingsApi::check(WebRequest& req, const Config& c) {
  const char* peer = req.query("peer");
  const char* port_text = req.query("port");
  if (!peer || !*peer) return error(400, "validation", "peer: give an IPv4 or IPv6 address, such as 10.0.0.5");
  std::optional<int> port;
  if (port_text && *port_text) {
    char* end = nullptr;
    long n = std::strtol(port_text, &end, 10);
    if (*end || n < 1 || n > 65535) return error(400, "validation", "port: a number from 1 to 65535");
    port = static_cast<int>(n);
  }
  std::optional<RelayPolicy> policy;
  try {
    policy = read_relay_policy(c);
  } catch (const ConfigError& e) {
    return error(503, "configuration", e.what(), config_error_key(e.what()));
  }
  auto v = check_peer(*policy, peer, port);
  if (!v) return error(400, "validation", "peer: not an IPv4 or IPv6 address");
  JsonPtr out(json_object());
  json_put(out.get(), "peer", json_str(peer));
  json_put(out.get(), "canonical", json_str(parse_peer_address(peer)->text()));
  json_put(out.get(), "port", port ? json_integer(*port) : nullptr);
  json_put(out.get(), "relayed", json_boolean(v->relayed));
  json_put(out.get(), "rule", json_str(v->rule));
  json_put(out.get(), "reason", json_str(v->reason));
  return json_response(200, out.get());
}

WebResponse TurnSettingsApi::rotate(WebRequest& req, const Config& c, const std::string& actor, const Audit& audit) {
  std::string problem;
  JsonPtr body = body_object(req, &problem);
  if (!body) return error(400, "validation", problem);
  if (!c.is_set("VYTAL_TURN_KEYRING_FILE"))
    return error(409, "no_key_ring", "VYTAL_TURN_KEYRING_FILE is not set: this appliance has no key ring to rotate");
  json_t* o = json_object_get(body.get(), "overlapSeconds");
  int64_t overlap = c.integer("VYTAL_TURN_ROTATION_OVERLAP_SECONDS", 0, kMaxOverlapS);
  if (o && !json_is_null(o)) {
    if (!json_is_integer(o) || json_integer_value(o) < 0 || json_integer_value(o) > kMaxOverlapS)
      return error(400, "validation", "overlapSeconds: from 0 to " + std::to_string(kMaxOverlapS), "overlapSeconds");
    overlap = json_integer_value(o);
  }
  std::string id = new_apply_id();
  JsonPtr request(json_object());
  json_put(request.get(), "id", json_str(id));
  json_put(request.get(), "kind", json_str("rotate"));
  json_put(request.get(), "actor", json_str(actor));
  json_put(request.get(), "createdAt", json_integer(clock_.now_ms()));
  json_put(request.get(), "overlapSeconds", json_integer(overlap));
  if (!audit("turn.rotate.requested", "ok",
             "rotate the TURN secret now; the previous one accepted for " + std::to_string(overlap) + " s (request " +
                 id + ")"))
    return error(503, "audit_unavailable", "the audit log cannot record this now");
  auto sent = submit_apply_request(s_.apply_spool_dir, id, request.get());
  if (!sent) return error(503, sent.error().code, sent.error().message);
  JsonPtr out(json_object());
  json_put(out.get(), "id", json_str(id));
  json_put(out.get(), "overlapSeconds", json_integer(overlap));
  return json_response(202, out.get());
}

WebResponse TurnSettingsApi::settings(const Config& c) {
  JsonPtr out(json_object());
  json_put(out.get(), "file", json_str(s_.settings_file));
  json_put(out.get(), "configFiles", string_array(s_.config_files));
  bool read = false;
  for (const std::string& f : s_.config_files) read = read || f == s_.settings_file;
  json_put(out.get(), "fileRead", json_boolean(read));
  SettingsValues file_values;
  std::string why;
  if (auto text = read_file(s_.settings_file, &why)) {
    auto parsed = parse_settings_file(*text, s_.settings_file);
    if (parsed)
      file_values = parsed.value();
    else
      json_put(out.get(), "fileError", json_str(parsed.error().message));
  } else if (errno != ENOENT) {  // not there yet is no error: nothing was saved
    json_put(out.get(), "fileError", json_str(why));
  }
  json_t* list = json_array();
  for (const EditableSetting& s : editable_settings()) {
    json_t* o = json_object();
    json_put(o, "key", json_str(s.key));
    json_put(o, "label", json_str(s.label));
    json_put(o, "value", json_str(c.str(s.key)));
    auto it = file_values.find(s.key);
    json_put(o, "fileValue", it == file_values.end() ? nullptr : json_str(it->second));
    json_put(o, "fromEnvironment", json_boolean(std::getenv(s.key) != nullptr));
    for (const ConfigKey& k : config_keys())
      if (std::strcmp(k.name, s.key) == 0) {
        json_put(o, "help", json_str(k.help));
        json_put(o, "default", json_str(k.default_value));
      }
    std::vector<std::string> units(s.restarts.begin(), s.restarts.end());
    json_put(o, "restarts", string_array(units));
    json_array_append_new(list, o);
  }
  json_put(out.get(), "settings", list);
  return json_response(200, out.get());
}

WebResponse TurnSettingsApi::preview(WebRequest& req) {
  std::string problem;
  JsonPtr body = body_object(req, &problem);
  std::map<std::string, std::optional<std::string>> changes;
  if (!body || !read_changes(body.get(), &changes, &problem)) return error(400, "validation", problem);
  auto p = propose_settings(s_.config_files, s_.settings_file, changes, env_lookup);
  if (!p) return invalid(p.error());
  JsonPtr out(json_object());
  json_put(out.get(), "changes", changes_json(p->changes));
  json_put(out.get(), "restarts", string_array(p->restarts));
  return json_response(200, out.get());
}

WebResponse TurnSettingsApi::apply(WebRequest& req, const std::string& actor, const Audit& audit) {
  std::string problem;
  JsonPtr body = body_object(req, &problem);
  std::map<std::string, std::optional<std::string>> changes;
  if (!body || !read_changes(body.get(), &changes, &problem)) return error(400, "validation", problem);
  bool restart = json_is_true(json_object_get(body.get(), "restart"));
  auto p = propose_settings(s_.config_files, s_.settings_file, changes, env_lookup);
  if (!p) {
    if (!audit("settings.apply", "denied", p.error().message.substr(0, 500)))
      return error(503, "audit_unavailable", "the audit log cannot record this now");
    return invalid(p.error());
  }
  if (p->changes.empty()) return error(400, "no_change", "these values are already in force");
  std::string id = new_apply_id();
  JsonPtr request(json_object());
  json_put(request.get(), "id", json_str(id));
  json_put(request.get(), "kind", json_str("settings"));
  json_put(request.get(), "actor", json_str(actor));
  json_put(request.get(), "createdAt", json_integer(clock_.now_ms()));
  json_put(request.get(), "changes", json_incref(json_object_get(body.get(), "changes")));
  json_t* expect = json_object();
  for (const auto& [k, v] : p->file_before) json_put(expect, k.c_str(), json_str(v));
  json_put(request.get(), "expect", expect);
  json_put(request.get(), "restart", json_boolean(restart));
  std::string units;
  for (const std::string& u : p->restarts) units += (units.empty() ? "" : " ") + u;
  if (!audit("settings.apply.requested", "ok",
             audit_detail(describe_changes(p->changes),
                          (restart ? "; restart " + units : "; no restart (" + units + " not restarted)") +
                              " (request " + id + ")")))
    return error(503, "audit_unavailable", "the audit log cannot record this now");
  auto sent = submit_apply_request(s_.apply_spool_dir, id, request.get());
  if (!sent) return error(503, sent.error().code, sent.error().message);
  JsonPtr out(json_object());
  json_put(out.get(), "id", json_str(id));
  json_put(out.get(), "changes", changes_json(p->changes));
  json_put(out.get(), "restarts", string_array(p->restarts));
  json_put(out.get(), "restart", json_boolean(restart));
  return json_response(202, out.get());
}

WebResponse TurnSettingsApi::result(const std::string& id) {
  if (!is_apply_id(id)) return error(404, "not_found", "no such request");
  bool audited = false;
  auto r = read_apply_result(s_.apply_spool_dir, id, &audited);
  if (!r) return error(503, r.error().code, r.error().message);
  if (!r.value()) {
    struct stat sb {};
    bool waiting = ::stat((s_.apply_spool_dir + "/requests/" + id + ".json").c_str(), &sb) == 0;
    if (!waiting) return error(404, "not_found", "no such request");
    JsonPtr out(json_object());
    json_put(out.get(), "id", json_str(id));
    json_put(out.get(), "state", json_str("pending"));
    json_put(out.get(), "waitingSeconds", json_integer(clock_.now_ms() / 1000 - sb.st_mtim.tv_sec));
    return json_response(200, out.get());
  }
  return json_response(200, r.value().get());
}

int audit_apply_results(const std::string& spool_dir, AuditOutbox& outbox, const Clock& clock,
                        ApplyAuditMemory& memory) {
  auto ids = apply_ids_in(spool_dir + "/results");
  if (!ids) return 0;
  int audited_now = 0;
  for (const std::string& id : *ids) {
    if (memory.audited.count(id)) continue;
    bool audited = false;
    auto r = read_apply_result(spool_dir, id, &audited);
    if (!r) {
      if (memory.warned.insert(id).second)
        LOG_WARN("vytal-admin: the result of request %s cannot be audited: %s", id.c_str(), r.error().message.c_str());
      continue;
    }
    if (!r.value() || audited) continue;
    json_t* res = r.value().get();
    std::string kind(json_string_field(res, "kind").value_or(""));
    std::string state(json_string_field(res, "state").value_or("failed"));
    std::string actor(json_string_field(res, "actor").value_or(""));
    std::string detail = std::string(json_string_field(res, "message").value_or(""));
    std::vector<SettingChange> changes;
    size_t i;
    json_t* c;
    json_array_foreach(json_object_get(res, "changes"), i, c) {
      changes.push_back({std::string(json_string_field(c, "key").value_or("")),
                         std::string(json_string_field(c, "before").value_or("")),
                         std::string(json_string_field(c, "after").value_or(""))});
    }
    if (!changes.empty()) detail += " (" + describe_changes(changes) + ")";
    // The call log's audit outcomes: ok, denied (vytalctl refused it), failed.
    AuditRecord record = make_audit_record(clock, actor.empty() ? "vytal-apply" : actor.substr(0, 128), "admin",
                                           kind == "rotate" ? "turn.rotate" : "settings.apply",
                                           state == "done"      ? "ok"
                                           : state == "refused" ? "denied"
                                                                : "failed",
                                           "local", audit_detail(detail, " (request " + id + ")"));
    // The same result always gets the same audit id: from its finish time and
    // its request id.
    record.id = uuid_v7(json_integer_field(res, "finishedAt").value_or(record.occurred_at), sha256(id));
    auto added = outbox.add(record);
    if (!added) {
      LOG_WARN("vytal-admin: the result of request %s waits to be audited: %s", id.c_str(),
               added.error().message.c_str());
      break;
    }
    memory.audited.insert(id);
    if (!mark_apply_result_audited(spool_dir, id))
      LOG_WARN("vytal-admin: result %s audited but not marked so in %s/results", id.c_str(), spool_dir.c_str());
    ++audited_now;
  }
  return audited_now;
}

}  // namespace vytal
