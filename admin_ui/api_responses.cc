#include "admin_ui/api_responses.h"

#include "common/json.h"

namespace vytal {

WebResponse json_response(int status, const json_t* body) {
  WebResponse r;
  r.status = status;
  r.body = json_dump(body);
  return r;
}

WebResponse error(int status, std::string_view code, std::string_view message, std::string_view key) {
  JsonPtr body(json_object());
  json_t* err = json_object();
  json_put(err, "code", json_str(code));
  json_put(err, "message", json_str(message));
  if (!key.empty()) json_put(err, "key", json_str(key));
  json_put(body.get(), "error", err);
  return json_response(status, body.get());
}

JsonPtr body_object(const WebRequest& req, std::string* problem) {
  const char* type = req.header("Content-Type");
  if (!type || !is_json_media_type(type)) {
    *problem = "Content-Type must be application/json";
    return nullptr;
  }
  std::string err;
  JsonPtr j = json_parse(req.body, &err);
  if (!j || !json_is_object(j.get())) {
    *problem = "the body must be a JSON object";
    return nullptr;
  }
  return j;
}

}  // namespace vytal
