// `vytalctl doctor`: checks a configured appliance end to end and says, per
// check, OK, WARN or FAIL with what to fix in one line. The checks: the
// configuration's consistency (vytal-turnserver's generated file against the
// files signald and syncd read, where the secrets are, the ICE URLs handed to
// browsers), the ports the services listen on, the relay address, the
// certificates (names, expiry, key), the TURN key ring (present, readable by
// the TURN server's user), the central PostgreSQL over TLS, the clock, file
// permissions, and a real TURN allocation with a freshly minted credential.
// Figures shared with `vytalctl status` (certificate expiry, key ring, clock,
// where the services answer) come from appliance_status/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/json.h"

namespace vytal {

enum class Verdict { ok, warn, fail };
const char* verdict_name(Verdict v);  // "OK", "WARN", "FAIL"

struct DoctorCheck {
  std::string id;  // stable, for scripts: "turn-allocation"
  Verdict verdict = Verdict::ok;
  std::string detail;  // what was found, one line
  std::string fix;     // what to do, one line (empty when OK)
};

struct DoctorOptions {
  std::vector<std::string> config_paths;                                   // the files given with --config, in order
  std::string turn_config_path = "/run/vytalwatch/vytal-turnserver.conf";  // the unit's generated file
  std::string turn_user = "vytalwatch";  // who runs vytal-turnserver (its unit's User=)
};

// Runs every check, in a fixed order. Takes a few seconds at most (each
// network probe is bounded).
std::vector<DoctorCheck> run_doctor(const Config& config, const DoctorOptions& options, int64_t now_s);

// 1 when a check failed, else 0 (warnings alone: 0).
int doctor_exit_status(const std::vector<DoctorCheck>& checks);
std::string doctor_to_text(const std::vector<DoctorCheck>& checks);
JsonPtr doctor_to_json(const std::vector<DoctorCheck>& checks);

}  // namespace vytal
