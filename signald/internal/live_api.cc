#include "signald/internal/live_api.h"

#include <memory>
#include <string_view>
#include <vector>

#include "call_log/audit_record.h"
#include "common/crypto.h"
#include "common/json.h"

namespace vytal {
namespace {

constexpr std::string_view kPrefix = "/internal/calls/";
constexpr size_t kMaxReason = 500;

// "/internal/calls/{id}/end" or "/internal/calls/{id}/participants/{user}/remove",
// split on '/': {id, "end"} or {id, "participants", user, "remove"}.
std::vector<std::string> call_route_parts(const std::string& path) {
  std::vector<std::string> parts;
  if (path.rfind(kPrefix, 0) != 0) return parts;
  std::string_view rest = std::string_view(path).substr(kPrefix.size());
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    parts.emplace_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return parts;
}

bool is_end(const std::vector<std::string>& p) { return p.size() == 2 && p[1] == "end"; }
bool is_remove(const std::vector<std::string>& p) {
  return p.size() == 4 && p[1] == "participants" && p[3] == "remove";
}

// Text a person wrote (a reason) or a name (an actor, "cli:root via sudo by
// alice"): 1 to max bytes, not only spaces, no control characters (it reaches
// logs, the audit log and another person's screen).
bool valid_text(std::string_view r, size_t max) {
  if (r.empty() || r.size() > max) return false;
  bool blank = true;
  for (unsigned char c : r) {
    if (c < 0x20 || c == 0x7f) return false;
    if (c != ' ') blank = false;
  }
  return !blank;
}

HttpResponse json_response(const json_t* body) {
  HttpResponse r;
  r.body = json_dump(body);
  return r;
}

}  // namespace

bool LiveApi::handles(const HttpRequest& request) {
  return request.path == "/internal/live" || request.path.rfind(kPrefix, 0) == 0;
}

void LiveApi::handle(HttpRequest& req, Responder responder) {
  if (req.path == "/internal/live") {
    if (req.method != HTTP_GET) {
      return HttpServer::refuse(std::move(responder), metrics_, "/internal/live", req.method_name(), 405,
                                "method_not_allowed", "this route takes GET");
    }
    return live(req, std::move(responder));
  }
  auto parts = call_route_parts(req.path);
  const char* route = is_end(parts)      ? "/internal/calls/{id}/end"
                      : is_remove(parts) ? "/internal/calls/{id}/participants/{user}/remove"
                                         : nullptr;
  if (!route) {
    metrics_.count_request("other", req.method_name(), 404);
    return std::move(responder).send(
        HttpServer::error_response(404, "not_found", "no such route on the local channel"));
  }
  if (req.method != HTTP_POST) {
    return HttpServer::refuse(std::move(responder), metrics_, route, req.method_name(), 405, "method_not_allowed",
                              "this route takes POST");
  }
  act(req, std::move(responder), parts[0], is_remove(parts) ? &parts[2] : nullptr);
}

void LiveApi::live(HttpRequest& req, Responder responder) {
  // The one query: call=<id>, a call to list first whatever the others are.
  constexpr std::string_view kCall = "call=";
  std::string_view query = req.query;
  if (!query.empty() && (query.rfind(kCall, 0) != 0 || !is_uuid(query.substr(kCall.size())))) {
    return HttpServer::refuse(std::move(responder), metrics_, "/internal/live", "GET", 400, "validation",
                              "the only query this route takes is call=<call id>");
  }
  std::string pinned(query.empty() ? std::string_view() : query.substr(kCall.size()));
  metrics_.count_request("/internal/live", "GET", 200);
  JsonPtr body(json_object());
  json_put(body.get(), "now", json_integer(clock_.now_ms()));
  JsonPtr calls = signaling_.live_json(
      [this](const std::string& call_id, const std::string& user) { return turn_.allocations_json(call_id, user); },
      kMaxLiveCalls, pinned);
  json_put(body.get(), "totalCalls", json_integer(static_cast<json_int_t>(signaling_.room_count())));
  json_put(body.get(), "calls", json_incref(calls.get()));
  std::move(responder).send(json_response(body.get()));
}

void LiveApi::act(HttpRequest& req, Responder responder, const std::string& call_id, const std::string* user) {
  const char* route = user ? "/internal/calls/{id}/participants/{user}/remove" : "/internal/calls/{id}/end";
  auto refuse = [&](int status, const char* code, const std::string& message) {
    HttpServer::refuse(std::move(responder), metrics_, route, "POST", status, code, message);
  };
  std::string error;
  JsonPtr doc = json_parse(req.body, &error);
  if (!doc || !json_is_object(doc.get())) return refuse(400, "invalid_json", "expected a JSON object: " + error);
  auto actor = json_string_field(doc.get(), "actor");
  if (!actor || !valid_text(*actor, 128))
    return refuse(400, "validation", "actor must name who acts (1 to 128 characters of text)");
  std::string role = "operator";
  if (const json_t* r = json_object_get(doc.get(), "actorRole")) {
    auto v = json_is_string(r) ? std::optional<std::string_view>(json_string_value(r)) : std::nullopt;
    if (!v || (*v != "operator" && *v != "admin" && *v != "cli"))
      return refuse(400, "validation", "actorRole must be operator, admin or cli");
    role = std::string(*v);
  }
  auto reason = json_string_field(doc.get(), "reason");
  if (!reason || !valid_text(*reason, kMaxReason))
    return refuse(400, "validation", "reason is required: 1 to 500 characters of text saying why");
  std::string remote;
  if (const json_t* a = json_object_get(doc.get(), "remoteAddr")) {
    if (!json_is_string(a) || json_string_length(a) > 64)
      return refuse(400, "validation", "remoteAddr must be an address");
    remote = json_string_value(a);
  }
  // An id that cannot be a call's or a user's names nothing here.
  if (!is_uuid(call_id)) return refuse(404, "call_not_found", "no such call");
  if (user && !is_platform_id(*user)) return refuse(404, "participant_not_found", "no such participant in this call");

  std::string detail = user ? "removed " + *user + ": " + std::string(*reason) : std::string(*reason);
  AuditRecord audit =
      make_audit_record(clock_, std::string(*actor), role, user ? "admin.participant.remove" : "admin.call.end", "ok",
                        remote, std::move(detail), call_id);
  auto shared = std::make_shared<Responder>(std::move(responder));
  auto done = [this, route, shared, call_id, user = user ? *user : std::string()](Result<CallUpdate> r) {
    int status = 200;
    HttpResponse answer;
    if (r) {
      JsonPtr body(json_object());
      json_put(body.get(), "callId", json_str(call_id));
      json_put(body.get(), "status", json_string(call_status_name(r->call.status)));
      if (!user.empty()) json_put(body.get(), "removed", json_str(user));
      answer = json_response(body.get());
    } else {
      const std::string& code = r.error().code;
      auto fail = [&](int s, const char* c, const std::string& m) {
        status = s;
        metrics_.count_rejected(c);
        answer = HttpServer::error_response(s, c, m);
      };
      if (code == "call_not_found")
        fail(404, "call_not_found", "no such call");
      else if (code == "not_participant")
        fail(404, "participant_not_found", "that user is not in this call");
      else if (code == "invalid_transition")
        fail(409, "call_ended", r.error().message);
      else if (code == "forbidden")
        fail(403, "forbidden", r.error().message);
      else {
        fail(503, kCallLogUnavailable, "the call log could not record this; retry");
      }
    }
    metrics_.count_request(route, "POST", status);
    std::move(*shared).send(std::move(answer));
  };
  bool queued = user ? signaling_.admin_remove(call_id, *user, std::string(*reason), std::move(audit), done)
                     : signaling_.admin_end(call_id, std::move(audit), std::string(*reason), done);
  if (!queued) {
    HttpServer::refuse(std::move(*shared), metrics_, route, "POST", 503, "overloaded",
                       "the call log is busy; retry later");
  }
}

}  // namespace vytal
