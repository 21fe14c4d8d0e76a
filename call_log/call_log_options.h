// How the call log is opened: read by each program's configuration, used by
// CallLog. Depends on nothing, so configuration headers can include it.
#pragma once

#include <cstddef>
#include <string>

namespace vytal {

struct CallLogOptions {
  std::string db_path;
  int max_batch = 512;  // 1 turns group commit off: one transaction per write
  size_t max_pending = 20000;
  int max_participants = 6;
  // Scheduled or active calls one patient may have (creates by patient and
  // provider tokens beyond it are refused); 0: no cap.
  int max_open_calls_per_patient = 20;
  // Audit rows for refused actions, per subject and minute (the excess is
  // counted, not written); 0: every refusal is audited.
  int denied_audits_per_minute = 20;
};

}  // namespace vytal
