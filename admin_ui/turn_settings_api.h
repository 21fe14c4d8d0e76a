// vytal-admin's TURN controls and settings pages (admin role), behind
// AdminApi's session, CSRF and role checks:
//
//   GET  /api/turn                     key ring ages, revocations in force, quotas, ports, the relay policy
//   GET  /api/turn/check?peer=&port=   would the TURN server relay there? the rule that decides
//   POST /api/turn/rotate {overlapSeconds}              -> 202 {id}: a request for vytal-apply
//   GET  /api/settings                 the editable settings, their values and where they come from
//   POST /api/settings/preview {changes}                -> the diff and the units to restart, or 400 naming the key
//   POST /api/settings/apply {changes, restart}         -> 202 {id}: a request for vytal-apply
//   GET  /api/apply/{id}               pending, or the result (audit_apply_results audits it)
//
// Nothing here needs privilege: the key ring and the settings file are
// written by vytalctl apply-requests (vytal-apply.service), see apply_spool.h.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "admin_ui/admin_config.h"
#include "admin_ui/audit_outbox.h"
#include "admin_ui/web_server.h"
#include "common/clock.h"

namespace vytal {

class TurnSettingsApi {
 public:
  // Writes an audit record (action, outcome, detail); false when it cannot be kept.
  using Audit = std::function<bool(const std::string&, const std::string&, const std::string&)>;

  TurnSettingsApi(const AdminSettings& settings, const Clock& clock) : s_(settings), clock_(clock) {}
  // seg: the path's segments from "api"; nullopt-like 404 when not ours.
  WebResponse handle(const std::vector<std::string>& seg, WebRequest& req, const std::string& actor,
                     const Audit& audit);
  static bool routes(const std::string& route) { return route == "turn" || route == "settings" || route == "apply"; }

 private:
  WebResponse turn(const Config& config);
  WebResponse check(WebRequest& req, const Config& config);
  WebResponse rotate(WebRequest& req, const Config& config, const std::string& actor, const Audit& audit);
  WebResponse settings(const Config& config);
  WebResponse preview(WebRequest& req);
  WebResponse apply(WebRequest& req, const std::string& actor, const Audit& audit);
  WebResponse result(const std::string& id);

  const AdminSettings& s_;
  const Clock& clock_;
};

// What audit_apply_results remembers between its rounds, in this process.
struct ApplyAuditMemory {
  // Audited here: a result that could not be marked (renamed) is not audited
  // again every 2 s.
  std::set<std::string> audited;
  // There but unreadable: warned about once, tried again every round.
  std::set<std::string> warned;
};

// Puts every result vytal-apply left in the spool and nobody audited yet
// into the audit outbox (its requester as the actor) and marks it audited;
// returns how many. vytal-admin runs this every 2 s, so a result is audited
// whether or not a page is open to ask for it. A record's id comes from the
// request id, so a record sent twice across a restart is written once.
int audit_apply_results(const std::string& spool_dir, AuditOutbox& outbox, const Clock& clock,
                        ApplyAuditMemory& memory);

}  // namespace vytal
