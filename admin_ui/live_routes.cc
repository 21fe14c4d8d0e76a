#include "admin_ui/live_routes.h"

#include <vector>

#include "admin_ui/accounts.h"
#include "call_log/call_record.h"
#include "common/crypto.h"
#include "common/json.h"

namespace vytal {
namespace {

constexpr long kReadTimeoutMs = 2000;
constexpr long kActionTimeoutMs = 3000;

WebResponse answer(int status, std::string body) {
  WebResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

WebResponse fail(int status, std::string_view code, std::string_view message) {
  JsonPtr e(json_object());
  json_t* inner = json_object();
  json_put(inner, "code", json_str(code));
  json_put(inner, "message", json_str(message));
  json_put(e.get(), "error", inner);
  return answer(status, json_dump(e.get()));
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t from = 0;
  for (;;) {
    size_t slash = s.find('/', from);
    out.push_back(s.substr(from, slash - from));
    if (slash == std::string::npos) return out;
    from = slash + 1;
  }
}

}  // namespace

WebResponse live_calls(const HttpTarget& signald, const Session& session, const char* call) {
  if (call && !is_uuid(call)) return fail(400, "validation", "call must be a call id");
  std::string path = call ? std::string("/internal/live?call=") + call : "/internal/live";
  auto reply = http_request(signald, "GET", path, "", kReadTimeoutMs);
  if (!reply || reply->status != 200)
    return fail(502, "signald_unreachable",
                "signald's local channel did not answer" + (reply ? "" : ": " + reply.error().message));
  JsonPtr doc = json_parse(reply->body, nullptr);
  if (!doc || !json_is_object(doc.get())) return fail(502, "signald_unreachable", "signald's answer was not JSON");
  json_put(doc.get(), "canAct", json_boolean(role_at_least(session.role, AdminRole::operator_)));
  return answer(200, json_dump(doc.get()));
}

WebResponse live_action(const HttpTarget& signald, const Session& session, const std::string& client,
                        const std::string& target, const std::string& body) {
  std::vector<std::string> p = split(target);
  bool end = p.size() == 3 && p[0] == "calls" && p[2] == "end";
  bool remove = p.size() == 5 && p[0] == "calls" && p[2] == "participants" && p[4] == "remove";
  if (!end && !remove) return fail(404, "not_found", "no such route");
  if (!is_uuid(p[1])) return fail(404, "call_not_found", "no such call");
  if (remove && !is_platform_id(p[3])) return fail(404, "participant_not_found", "no such participant");
  std::string error;
  JsonPtr in = json_parse(body, &error);
  auto reason = in ? json_string_field(in.get(), "reason") : std::nullopt;
  if (!reason) return fail(400, "validation", "say why: a reason is required");
  JsonPtr out(json_object());
  json_put(out.get(), "actor", json_str(session.account));
  json_put(out.get(), "actorRole", json_string(admin_role_name(session.role)));
  json_put(out.get(), "reason", json_str(*reason));
  json_put(out.get(), "remoteAddr", json_str(client.substr(0, 64)));
  std::string path = "/internal/calls/" + p[1] + (end ? "/end" : "/participants/" + p[3] + "/remove");
  auto reply = http_request(signald, "POST", path, json_dump(out.get()), kActionTimeoutMs);
  if (!reply)
    return fail(502, "signald_unreachable", "signald's local channel did not answer: " + reply.error().message);
  return answer(static_cast<int>(reply->status), reply->body);
}

}  // namespace vytal
