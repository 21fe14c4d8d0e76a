// The REST side of signald: /webrtc call API, ICE servers, health and
// metrics. Runs on the event loop; reads through a CallReader, writes through
// the CommitQueue and answers a write only after it has committed.
// Routes and bodies are documented in docs/PROTOCOL.md.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/jwt.h"
#include "signald/call_reader.h"
#include "signald/commit_queue.h"
#include "signald/http_server.h"
#include "signald/metrics.h"
#include "signald/signald_config.h"
#include "signald/signaling.h"
#include "signald/turn_link.h"

namespace vytal {

struct RestApiDeps {
  const SignaldSettings& settings;
  const JwtVerifier& jwt;
  CallReader& reader;
  CommitQueue& commits;
  Metrics& metrics;
  const Clock& clock;
  Signaling& signaling;
  TurnLink& turn;
};

class RestApi {
 public:
  explicit RestApi(RestApiDeps deps) : d_(deps) {}
  void handle(HttpRequest& request, Responder responder);

 private:
  struct Exchange;
  void respond(const Exchange& x, HttpResponse response) const;
  void respond_error(const Exchange& x, int status, std::string_view code, std::string_view message) const;
  void respond_error(const Exchange& x, const Error& error) const;
  bool authenticate(HttpRequest& request, const Exchange& x, Actor* actor) const;
  // Queues a call change; answers after commit. A change that ends the call
  // is also told to the call's signaling room.
  void write(const Exchange& x, int success_status, std::function<Result<CallUpdate>(CallWriter&)> op);
  void web_asset(const Exchange& x, const std::string& path);

  void create_call(HttpRequest& request, const Exchange& x, const Actor& actor);
  void get_call(const Exchange& x, const Actor& actor, const std::string& id);
  void list_calls(HttpRequest& request, const Exchange& x, const Actor& actor);
  void finish_call(HttpRequest& request, const Exchange& x, const Actor& actor, const std::string& id, bool cancel);
  void add_participant(HttpRequest& request, const Exchange& x, const Actor& actor, const std::string& id);
  void ice_servers(const Exchange& x, const Actor& actor);
  void ready(const Exchange& x);

  RestApiDeps d_;
};

}  // namespace vytal
