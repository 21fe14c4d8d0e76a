// The REST side of signald: /webrtc call API, ICE servers, health and
// metrics. Runs on the event loop; reads and writes through the CallLog and
// answers a write only after it has committed.
// Routes and bodies are documented in docs/PROTOCOL.md.
#pragma once

#include <string>
#include <vector>

#include "call_log/call_log.h"
#include "common/clock.h"
#include "common/jwt.h"
#include "http/http_server.h"
#include "signald/metrics.h"
#include "signald/readiness.h"
#include "signald/signald_config.h"
#include "signald/signaling/signaling.h"
#include "signald/turn_link.h"

namespace vytal {

struct RestApiDeps {
  const SignaldSettings& settings;
  const JwtVerifier& jwt;
  CallLog& call_log;
  Metrics& metrics;
  const Clock& clock;
  Signaling& signaling;
  TurnLink& turn;
};

class RestApi {
 public:
  explicit RestApi(RestApiDeps deps) : d_(deps), readiness_(deps.call_log, deps.clock) {}
  void handle(HttpRequest& request, Responder responder);

 private:
  struct Exchange;
  // Each answers the exchange (its Responder is used up).
  void respond(Exchange& x, HttpResponse response) const;
  void respond_error(Exchange& x, int status, std::string_view code, std::string_view message) const;
  void respond_error(Exchange& x, const Error& error) const;
  bool authenticate(HttpRequest& request, Exchange& x, Actor* actor) const;
  // Queues a call change; answers after commit (the call log tells the
  // call's signaling room of an end).
  // The subject's write rate (SubjectLimits) is charged first: over it, 429.
  void write(Exchange& x, const Actor& actor, WriteKind kind, int success_status,
             std::function<Result<CallUpdate>(CallWriter&)> op);
  void web_asset(Exchange& x, const std::string& path);

  void create_call(HttpRequest& request, Exchange& x, const Actor& actor);
  void get_call(Exchange& x, const Actor& actor, const std::string& id);
  void list_calls(HttpRequest& request, Exchange& x, const Actor& actor);
  void finish_call(HttpRequest& request, Exchange& x, const Actor& actor, const std::string& id, bool cancel);
  void add_participant(HttpRequest& request, Exchange& x, const Actor& actor, const std::string& id);
  void ice_servers(HttpRequest& request, Exchange& x, const Actor& actor);
  // Records a refused read in the audit log (bounded per subject).
  void audit_denied(const Actor& actor, const char* action, const std::string& call_id);
  void ready(Exchange& x);

  RestApiDeps d_;
  ReadinessProbe readiness_;
};

}  // namespace vytal
