// vytal-admin's live calls routes, forwarded to signald's local channel
// (signald/internal/live_api.h) with the logged-in account as the actor:
//
//   GET  /api/live[?call=ID]                                    (viewer)
//     -> signald's GET /internal/live (call ID listed first), plus "canAct"
//        for this session; 400 validation when ID is not a call id
//   POST /api/live/calls/{id}/end                     {reason}  (operator)
//   POST /api/live/calls/{id}/participants/{user}/remove {reason} (operator)
//     -> signald's answer (its status and body); 502 signald_unreachable
//        when the local channel does not answer.
//
// signald commits each action with its audit record (actor = the account,
// the reason as detail). Runs on the web server's thread; a blocking
// request of at most 3 s (the actions wait for a commit).
#pragma once

#include <string>

#include "admin_ui/sessions.h"
#include "admin_ui/web_server.h"
#include "appliance_status/http_client.h"

namespace vytal {

// `call`: the query's call=, or null.
WebResponse live_calls(const HttpTarget& signald, const Session& session, const char* call);
// `target` is the rest of the path after /api/live/ ("calls/<id>/end", ...),
// checked here against the two forms; `body` the page's JSON ({reason}).
WebResponse live_action(const HttpTarget& signald, const Session& session, const std::string& client,
                        const std::string& target, const std::string& body);

}  // namespace vytal
