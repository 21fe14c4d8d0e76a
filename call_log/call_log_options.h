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
};

}  // namespace vytal
