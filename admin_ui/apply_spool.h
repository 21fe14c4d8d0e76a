// The narrow way vytal-admin gets privileged work done without holding any
// privilege: it leaves a request (rotate the TURN secret, apply settings) as
// a JSON file in VYTAL_APPLY_SPOOL_DIR/requests/, a directory it owns;
// systemd's vytal-apply.path sees it and starts vytal-apply.service, which
// runs `vytalctl apply-requests`: it validates each request again with the
// same code, does the work, writes VYTAL_APPLY_SPOOL_DIR/results/<id>.json
// and removes the request. vytal-admin reads the result and audits it.
//
//   requests/<id>.json  {"id","kind":"rotate"|"settings","actor","createdAt",
//                        "overlapSeconds"?, "changes"?: {KEY: value|null},
//                        "expect"?: {KEY: value} (the settings file when previewed),
//                        "restart"?: bool}
//   results/<id>.json   (<id>.audited.json once vytal-admin audited it)
//                       {"id","kind","state":"done"|"refused"|"failed","message",
//                        "changes"?: [{key,before,after}], "restarted"?: [unit], "finishedAt"}
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/result.h"

namespace vytal {

// 32 lowercase hex digits: the only ids read from or written to the spool.
bool is_apply_id(const std::string& id);
std::string new_apply_id();
// The ids of `dir`'s <id>.json files (requests/ or results/), sorted; nullopt
// when the directory cannot be opened.
std::optional<std::vector<std::string>> apply_ids_in(const std::string& dir);

// Writes requests/<id>.json atomically (a temporary file in tmp/, renamed);
// makes the three directories when missing.
Result<bool> submit_apply_request(const std::string& spool_dir, const std::string& id, const json_t* request);

// results/<id>.json, or results/<id>.audited.json once mark_apply_result_audited
// renamed it (*audited set); nullptr while there is none, an error when one
// cannot be read (not only missing) or is not a JSON object.
Result<JsonPtr> read_apply_result(const std::string& spool_dir, const std::string& id, bool* audited);
// The result is in the audit log: renamed, so no restart of vytal-admin audits it twice.
bool mark_apply_result_audited(const std::string& spool_dir, const std::string& id);

}  // namespace vytal
