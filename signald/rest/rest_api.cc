#include "signald/rest/rest_api.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cstring>
#include <memory>

#include "call_log/call_access.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "common/time_format.h"
#include "signald/ice_servers.h"
#include "signald/web_assets.h"

namespace vytal {

struct RestApi::Exchange {
  Responder responder;
  const char* route;
  std::string method;
  std::string cors_origin;  // echoed in Access-Control-Allow-Origin when allowed
};

namespace {

constexpr int kMaxListLimit = 200;

int status_for(std::string_view code) {
  if (code == "forbidden") return 403;
  if (code == "call_not_found") return 404;
  if (code == "invalid_transition" || code == "call_full" || code == "already_participant" || code == "not_participant")
    return 409;
  if (code == "db_error" || code == kCallLogUnavailable) return 503;
  if (code == "unsupported_media_type") return 415;
  if (code == "too_many_open_calls") return 429;
  return 400;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (std::string_view o : options)
    if (s == o) return true;
  return false;
}

// Splits "/webrtc/calls/<id>/end" into its segments.
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

struct Body {
  JsonPtr json;
  Error error;
};

// Parses a JSON object body. An empty body is an empty object when allowed.
Body parse_body(const HttpRequest& req, bool empty_ok) {
  if (req.body.empty()) {
    if (empty_ok) return {JsonPtr(json_object()), {}};
    return {nullptr, {"invalid_json", "a JSON object body is required"}};
  }
  const std::string* type = req.header("content-type");
  if (!type || !is_json_media_type(*type))
    return {nullptr, {"unsupported_media_type", "Content-Type must be application/json"}};
  std::string error;
  JsonPtr doc = json_parse(req.body, &error);
  if (!doc) return {nullptr, {"invalid_json", "body is not valid JSON: " + error}};
  if (!json_is_object(doc.get())) return {nullptr, {"invalid_json", "body must be a JSON object"}};
  return {std::move(doc), {}};
}

// An optional string field: absent or null gives nullopt; another type is an error.
bool optional_string(const json_t* obj, const char* key, std::optional<std::string>* out, Error* err) {
  const json_t* v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return true;
  if (!json_is_string(v)) {
    *err = {"validation", std::string(key) + " must be a string"};
    return false;
  }
  *out = std::string(json_string_value(v), json_string_length(v));
  return true;
}

std::string encode_cursor(const CallRecord& c) { return base64url_encode(std::to_string(c.created_at) + ":" + c.id); }

std::optional<std::pair<int64_t, std::string>> decode_cursor(std::string_view text) {
  auto raw = base64url_decode(text);
  if (!raw) return std::nullopt;
  size_t colon = raw->find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  char* end = nullptr;
  long long ts = std::strtoll(raw->c_str(), &end, 10);
  if (end != raw->c_str() + colon) return std::nullopt;
  std::string id = raw->substr(colon + 1);
  if (!is_uuid(id)) return std::nullopt;
  return std::make_pair(static_cast<int64_t>(ts), id);
}

}  // namespace

void RestApi::respond(Exchange& x, HttpResponse r) const {
  if (!x.cors_origin.empty()) {
    r.headers.emplace_back("Access-Control-Allow-Origin", x.cors_origin);
    r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    r.headers.emplace_back("Vary", "Origin");
  }
  d_.metrics.count_request(x.route, x.method, r.status);
  std::move(x.responder).send(std::move(r));
}

void RestApi::respond_error(Exchange& x, int status, std::string_view code, std::string_view message) const {
  if (status >= 400 && status != 404 && status != 409) d_.metrics.count_rejected(code);
  respond(x, HttpServer::error_response(status, code, message));
}

void RestApi::respond_error(Exchange& x, const Error& e) const {
  respond_error(x, status_for(e.code), e.code, e.message);
}

void RestApi::handle(HttpRequest& req, Responder responder) {
  Exchange x{std::move(responder), "other", req.method_name(), {}};
  if (const std::string* origin = req.header("origin")) {
    for (const std::string& allowed : d_.settings.allowed_origins)
      if (*origin == allowed) x.cors_origin = allowed;
  }
  std::vector<std::string> seg = segments(req.path);
  // HEAD is GET without the body (RFC 9110 9.3.2; HttpServer leaves it out).
  const bool get = req.method == HTTP_GET || req.method == HTTP_HEAD, post = req.method == HTTP_POST;

  if (req.method == HTTP_OPTIONS) {  // CORS preflight
    x.route = "preflight";
    if (x.cors_origin.empty()) return respond_error(x, 403, "cors_origin_denied", "this origin is not allowed");
    HttpResponse r;
    r.status = 204;
    r.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                 {"Access-Control-Max-Age", "600"}};
    return respond(x, std::move(r));
  }
  if (seg.size() == 1 && seg[0] == "healthz") {
    x.route = "/healthz";
    HttpResponse r;
    r.body = R"({"status":"ok"})";
    return respond(x, std::move(r));
  }
  if (seg.size() == 1 && seg[0] == "readyz") {
    x.route = "/readyz";
    return ready(x);
  }
  if (seg.size() == 1 && seg[0] == "metrics") {
    x.route = "/metrics";
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = d_.metrics.render();
    return respond(x, std::move(r));
  }
  if (seg.empty() || seg[0] != "webrtc") return respond_error(x, 404, "not_found", "no such route");
  if (seg.size() == 2 && seg[1] == "ws")
    return d_.signaling.accept(req, std::move(x.responder));  // authenticates itself
  if (seg.size() >= 2 && seg[1] == "demo") {
    x.route = "/webrtc/demo";
    if (!get) return respond_error(x, 405, "method_not_allowed", "this route takes GET");
    return web_asset(x, seg.size() == 2 ? "index.html" : seg[2]);
  }

  // Route first (so a 404/405 does not need a token), then authenticate.
  enum class Op { none, create, list, get, end, cancel, add_participant, ice } op = Op::none;
  bool method_ok = false;
  if (seg.size() == 2 && seg[1] == "calls") {
    x.route = "/webrtc/calls";
    op = post ? Op::create : Op::list;
    method_ok = get || post;
  } else if (seg.size() == 3 && seg[1] == "calls") {
    x.route = "/webrtc/calls/{id}";
    op = Op::get;
    method_ok = get;
  } else if (seg.size() == 4 && seg[1] == "calls" && (seg[3] == "end" || seg[3] == "cancel")) {
    x.route = seg[3] == "end" ? "/webrtc/calls/{id}/end" : "/webrtc/calls/{id}/cancel";
    op = seg[3] == "end" ? Op::end : Op::cancel;
    method_ok = post;
  } else if (seg.size() == 4 && seg[1] == "calls" && seg[3] == "participants") {
    x.route = "/webrtc/calls/{id}/participants";
    op = Op::add_participant;
    method_ok = post;
  } else if (seg.size() == 2 && seg[1] == "ice-servers") {
    x.route = "/webrtc/ice-servers";
    op = Op::ice;
    method_ok = get;
  }
  if (op == Op::none) return respond_error(x, 404, "not_found", "no such route");
  if (!method_ok) return respond_error(x, 405, "method_not_allowed", "this route does not take " + x.method);

  Actor actor;
  if (!authenticate(req, x, &actor)) return;
  switch (op) {
    case Op::create: return create_call(req, x, actor);
    case Op::list: return list_calls(req, x, actor);
    case Op::get: return get_call(x, actor, seg[2]);
    case Op::end: return finish_call(req, x, actor, seg[2], false);
    case Op::cancel: return finish_call(req, x, actor, seg[2], true);
    case Op::add_participant: return add_participant(req, x, actor, seg[2]);
    case Op::ice: return ice_servers(req, x, actor);
    case Op::none: break;
  }
}

bool RestApi::authenticate(HttpRequest& req, Exchange& x, Actor* actor) const {
  const std::string* auth = req.header("authorization");
  Error err{"token_missing", "an Authorization: Bearer token is required"};
  if (auth && auth->size() > 7 && strncasecmp(auth->c_str(), "Bearer ", 7) == 0) {
    auto claims = d_.jwt.verify(std::string_view(*auth).substr(7), d_.clock.now_s());
    if (claims) {
      actor->sub = std::move(claims->sub);
      actor->role = claims->role;
      actor->remote_addr = req.remote_addr;
      return true;
    }
    err = claims.error();
  }
  d_.metrics.count_rejected(err.code);
  HttpResponse r = HttpServer::error_response(401, err.code, err.message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  respond(x, std::move(r));
  return false;
}

void RestApi::write(Exchange& x, const Actor& actor, WriteKind kind, int success_status,
                    std::function<Result<CallUpdate>(CallWriter&)> op) {
  if (int64_t wait_s = d_.signaling.limits().charge(actor.sub, actor.role, kind)) {
    d_.metrics.count_rejected("rate_limited");
    HttpResponse r =
        HttpServer::error_response(429, "rate_limited",
                                   kind == WriteKind::create ? "too many calls created by this user; retry later"
                                                             : "too many changes by this user; retry later");
    r.headers.emplace_back("Retry-After", std::to_string(wait_s));
    return respond(x, std::move(r));
  }
  // In order with signaling's writes (a REST end must not overtake a leave).
  if (!d_.call_log.has_room()) return respond_error(x, 503, "overloaded", "too many writes are waiting; retry later");
  d_.call_log.submit(
      std::move(op),
      [this, x = std::move(x), success_status](Result<CallUpdate> r) mutable {
        if (!r) return respond_error(x, r.error());
        HttpResponse resp;
        resp.status = success_status;
        resp.body = json_dump(call_to_json(r->call, true).get());
        respond(x, std::move(resp));
      },
      CallLog::WhenFull::refuse);
}

void RestApi::create_call(HttpRequest& req, Exchange& x, const Actor& actor) {
  Body body = parse_body(req, false);
  if (!body.json) return respond_error(x, body.error);
  const json_t* j = body.json.get();
  NewCall call;
  auto patient = json_string_field(j, "patientId");
  auto provider = json_string_field(j, "providerId");
  auto type = json_string_field(j, "type");
  if (!patient || !is_platform_id(*patient))
    return respond_error(x, 400, "validation", "patientId must be an id of 1 to 128 letters, digits or ._:@-");
  if (!provider || !is_platform_id(*provider))
    return respond_error(x, 400, "validation", "providerId must be an id of 1 to 128 letters, digits or ._:@-");
  if (!type || !one_of(*type, {"video", "audio"}))
    return respond_error(x, 400, "validation", "type must be \"video\" or \"audio\"");
  call.patient_id = *patient;
  call.provider_id = *provider;
  call.type = *type;
  Error err;
  std::optional<std::string> scheduled;
  if (!optional_string(j, "appointmentId", &call.appointment_id, &err) ||
      !optional_string(j, "scheduledAt", &scheduled, &err))
    return respond_error(x, err);
  if (call.appointment_id && !is_platform_id(*call.appointment_id))
    return respond_error(x, 400, "validation", "appointmentId must be an id of 1 to 128 letters, digits or ._:@-");
  if (scheduled) {
    call.scheduled_at = parse_timestamp(*scheduled);
    if (!call.scheduled_at)
      return respond_error(x, 400, "validation", "scheduledAt must be an RFC 3339 time such as 2026-11-24T15:00:00Z");
  }
  write(x, actor, WriteKind::create, 201,
        [call = std::move(call), actor](CallWriter& w) { return w.create(call, actor); });
}

void RestApi::audit_denied(const Actor& actor, const char* action, const std::string& call_id) {
  // Refusals cost a write each: bounded per subject here, before anything is
  // queued (and again in the transaction, CallWriter::deny).
  if (!d_.signaling.limits().may_audit_refusal(actor.sub)) return d_.metrics.count_rejected("audit_suppressed");
  d_.call_log.record([actor, action, call_id](CallWriter& w) { return w.audit_denied(actor, action, call_id); });
}

void RestApi::get_call(Exchange& x, const Actor& actor, const std::string& id) {
  if (!is_uuid(id)) return respond_error(x, 404, "call_not_found", "no call with this id");
  auto got = d_.call_log.reader().get(id);
  if (!got) return respond_error(x, got.error());
  if (!got.value()) return respond_error(x, 404, "call_not_found", "no call with this id");
  const CallRecord& call = *got.value();
  if (!can_view_call(actor, call)) {
    audit_denied(actor, "call.read", id);
    return respond_error(x, 403, "forbidden", "you may not see this call");
  }
  HttpResponse r;
  r.body = json_dump(call_to_json(call, true).get());
  respond(x, std::move(r));
}

void RestApi::list_calls(HttpRequest& req, Exchange& x, const Actor& actor) {
  CallFilter f;
  evkeyvalq params;
  params.tqh_first = nullptr;
  params.tqh_last = &params.tqh_first;
  if (!req.query.empty() && evhttp_parse_query_str(req.query.c_str(), &params) != 0)
    return respond_error(x, 400, "validation", "the query string is malformed");
  std::unique_ptr<evkeyvalq, void (*)(evkeyvalq*)> guard(&params, evhttp_clear_headers);
  for (evkeyval* kv = params.tqh_first; kv; kv = kv->next.tqe_next) {
    std::string_view key = kv->key, value = kv->value;
    if (key == "patientId" || key == "providerId") {
      if (!is_platform_id(value)) return respond_error(x, 400, "validation", std::string(key) + " is not a valid id");
      (key == "patientId" ? f.patient_id : f.provider_id) = std::string(value);
    } else if (key == "status") {
      f.status = parse_call_status(value);
      if (!f.status) return respond_error(x, 400, "validation", "status is not a call status");
    } else if (key == "from" || key == "to") {
      auto t = parse_timestamp(value);
      if (!t) return respond_error(x, 400, "validation", std::string(key) + " must be an RFC 3339 time");
      (key == "from" ? f.created_from : f.created_to) = *t;
    } else if (key == "limit") {
      char* end = nullptr;
      long n = std::strtol(kv->value, &end, 10);
      if (*end || n < 1 || n > kMaxListLimit)
        return respond_error(x, 400, "validation", "limit must be from 1 to " + std::to_string(kMaxListLimit));
      f.limit = static_cast<int>(n);
    } else if (key == "cursor") {
      f.before = decode_cursor(value);
      if (!f.before) return respond_error(x, 400, "validation", "cursor is not one this server issued");
    } else {
      return respond_error(x, 400, "validation", "unknown query parameter " + std::string(key));
    }
  }
  // Patients and providers see only what is theirs; asking for someone
  // else's calls by filter is refused rather than silently narrowed.
  if (actor.role == Role::patient) {
    if (f.patient_id && *f.patient_id != actor.sub)
      return respond_error(x, 403, "forbidden", "patients may list only their own calls");
    f.visible_to_patient = actor.sub;
  } else if (actor.role == Role::provider) {
    if (f.provider_id && *f.provider_id != actor.sub)
      return respond_error(x, 403, "forbidden", "providers may list only their own calls");
    f.visible_to_provider = actor.sub;
  }
  auto calls = d_.call_log.reader().list(f);
  if (!calls) return respond_error(x, calls.error());
  JsonPtr out(json_object());
  json_t* arr = json_array();
  for (const CallRecord& c : calls.value()) json_array_append_new(arr, call_to_json(c, false).release());
  json_put(out.get(), "calls", arr);
  bool more = static_cast<int>(calls->size()) == f.limit;
  json_put(out.get(), "nextCursor", more ? json_str(encode_cursor(calls->back())) : nullptr);
  HttpResponse r;
  r.body = json_dump(out.get());
  respond(x, std::move(r));
}

void RestApi::finish_call(HttpRequest& req, Exchange& x, const Actor& actor, const std::string& id, bool cancel) {
  if (!is_uuid(id)) return respond_error(x, 404, "call_not_found", "no call with this id");
  Body body = parse_body(req, true);
  if (!body.json) return respond_error(x, body.error);
  std::optional<std::string> reason;
  Error err;
  if (!optional_string(body.json.get(), "reason", &reason, &err)) return respond_error(x, err);
  if (reason && (reason->empty() || reason->size() > 64 || !is_platform_id(*reason)))
    return respond_error(x, 400, "validation", "reason must be a short code such as hung_up or no_show");
  std::string why = reason.value_or("");
  write(x, actor, WriteKind::other, 200,
        [id, actor, why, cancel](CallWriter& w) { return cancel ? w.cancel(id, actor, why) : w.end(id, actor, why); });
}

void RestApi::add_participant(HttpRequest& req, Exchange& x, const Actor& actor, const std::string& id) {
  if (!is_uuid(id)) return respond_error(x, 404, "call_not_found", "no call with this id");
  Body body = parse_body(req, false);
  if (!body.json) return respond_error(x, body.error);
  auto user = json_string_field(body.json.get(), "userId");
  auto role = json_string_field(body.json.get(), "role");
  if (!user || !is_platform_id(*user))
    return respond_error(x, 400, "validation", "userId must be an id of 1 to 128 letters, digits or ._:@-");
  if (!role || !one_of(*role, {"patient", "provider", "interpreter", "family", "caregiver", "observer"}))
    return respond_error(x, 400, "validation",
                         "role must be patient, provider, interpreter, family, caregiver or observer");
  write(x, actor, WriteKind::other, 201, [id, actor, u = std::string(*user), r = std::string(*role)](CallWriter& w) {
    return w.add_participant(id, actor, u, r);
  });
}

void RestApi::ice_servers(HttpRequest& req, Exchange& x, const Actor& actor) {
  // TURN credentials name the call they are for ("<user>@<call id>"), so
  // leaving the call revokes them like those of the signaling join. A plain
  // "<user>" credential could never be revoked: only service and admin
  // tokens (the platform's back end) get one, by asking without callId.
  std::optional<std::string> call_id;
  evkeyvalq params;
  params.tqh_first = nullptr;
  params.tqh_last = &params.tqh_first;
  if (!req.query.empty() && evhttp_parse_query_str(req.query.c_str(), &params) != 0)
    return respond_error(x, 400, "validation", "the query string is malformed");
  std::unique_ptr<evkeyvalq, void (*)(evkeyvalq*)> guard(&params, evhttp_clear_headers);
  for (evkeyval* kv = params.tqh_first; kv; kv = kv->next.tqe_next) {
    if (std::string_view(kv->key) != "callId" || call_id)
      return respond_error(x, 400, "validation", "the only query parameter is callId, once");
    call_id = kv->value;
  }
  std::string turn_user = actor.sub;
  if (!call_id) {
    if (!is_privileged(actor))
      return respond_error(x, 400, "validation",
                           "callId is required: TURN credentials are minted for a call you take part in");
  } else {
    if (!is_uuid(*call_id)) return respond_error(x, 400, "validation", "callId must be a call id");
    auto got = d_.call_log.reader().get(*call_id);
    if (!got) return respond_error(x, got.error());
    if (!got.value()) return respond_error(x, 404, "call_not_found", "no call with this id");
    const CallRecord& call = *got.value();
    if (!can_join_call(actor, call)) {
      audit_denied(actor, "ice_servers.get", *call_id);
      return respond_error(x, 403, "forbidden", "you do not take part in this call");
    }
    if (is_terminal(call.status)) return respond_error(x, 409, "invalid_transition", "the call is over");
    turn_user += "@" + call.id;
  }
  HttpResponse r;
  r.body = json_dump(ice_servers_json(d_.settings.ice, d_.turn.current_secret(), turn_user, d_.clock.now_s()).get());
  respond(x, std::move(r));
}

void RestApi::web_asset(Exchange& x, const std::string& name) {
  const WebAsset* asset = find_web_asset(name);
  if (!asset) return respond_error(x, 404, "not_found", "no such file");
  HttpResponse r;
  r.content_type = asset->content_type;
  r.body.assign(asset->data, asset->size);
  respond(x, std::move(r));
}

void RestApi::ready(Exchange& x) {
  // Ready means a write reaches the disk: a probe row committed through the
  // queue the calls use, at most once a second (ReadinessProbe), so an
  // unauthenticated client cannot turn requests into fsyncs.
  // Shared: the probe keeps its waiters in std::function (copyable), and
  // the exchange's Responder is move-only.
  readiness_.check([this, x = std::make_shared<Exchange>(std::move(x))](bool ready) {
    if (!ready) return respond_error(*x, 503, "not_ready", "the call log is not taking writes");
    HttpResponse r;
    r.body = R"({"status":"ready"})";
    respond(*x, std::move(r));
  });
  d_.metrics.readiness_probes = readiness_.probes();
}

}  // namespace vytal
