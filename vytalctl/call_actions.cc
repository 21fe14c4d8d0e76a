#include "vytalctl/call_actions.h"

#include <cctype>
#include <cstdio>
#include <string>

#include "appliance_status/http_client.h"
#include "common/json.h"
#include "vytalctl/admin_commands.h"

namespace vytal {

int end_call(const Config& config, const CommandOptions& o, int64_t) {
  if (o.reason.empty()) return kUsageError;
  const std::string& id = o.args.at(0);
  const std::string& socket = config.str("VYTAL_SIGNALD_CONTROL_SOCKET");
  if (socket.empty()) {
    std::fprintf(stderr, "vytalctl: VYTAL_SIGNALD_CONTROL_SOCKET is empty: signald's local channel is off\n");
    return 1;
  }
  JsonPtr body(json_object());
  json_put(body.get(), "actor", json_str(shell_actor()));
  json_put(body.get(), "actorRole", json_string("cli"));
  json_put(body.get(), "reason", json_str(o.reason));
  json_put(body.get(), "remoteAddr", json_string("local"));
  // The id goes into the path as typed: signald answers 404 for anything but a call id.
  std::string path = "/internal/calls/";
  for (char c : id) path += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? std::string(1, c) : "_";
  path += "/end";
  auto reply = http_request(HttpTarget{"http://signald", socket}, "POST", path, json_dump(body.get()), 5000);
  if (!reply) {
    std::fprintf(stderr, "vytalctl: signald's local channel %s does not answer: %s\n", socket.c_str(),
                 reply.error().message.c_str());
    return 1;
  }
  JsonPtr answer = json_parse(reply->body, nullptr);
  if (reply->status != 200) {
    const json_t* error = answer ? json_object_get(answer.get(), "error") : nullptr;
    auto message = error ? json_string_field(error, "message") : std::nullopt;
    std::fprintf(stderr, "vytalctl: call %s: %s (signald answered %ld)\n", id.c_str(),
                 message ? std::string(*message).c_str() : reply->body.c_str(), reply->status);
    if (reply->status == 400) return 2;
    return 1;
  }
  auto status = answer ? json_string_field(answer.get(), "status") : std::nullopt;
  std::printf("call %s %s (reason recorded in the audit log as %s)\n", id.c_str(),
              status ? std::string(*status).c_str() : "ended", shell_actor().c_str());
  return 0;
}

}  // namespace vytal
