// The admin API's JSON answers and request bodies, one way for every route:
// errors are {"error":{"code","message"[,"key"]}}, bodies are JSON objects
// sent as application/json.
#pragma once

#include <string>
#include <string_view>

#include "admin_ui/web_server.h"
#include "common/handles.h"

namespace vytal {

WebResponse json_response(int status, const json_t* body);
// `key` names the setting an error is about (the settings pages mark it).
WebResponse error(int status, std::string_view code, std::string_view message, std::string_view key = {});
// The request's body as a JSON object; null with *problem set when the
// Content-Type is not application/json or the body is not a JSON object.
JsonPtr body_object(const WebRequest& req, std::string* problem);

}  // namespace vytal
