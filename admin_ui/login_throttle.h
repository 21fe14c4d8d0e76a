// Login throttling, per account name and per client address: a few free
// failures, then each failure doubles the wait before the next attempt is
// heard (up to a cap). While a key waits, any attempt with it is refused with
// the seconds left (the server answers 429 with Retry-After) without looking
// at the password. Unknown account names are throttled exactly like known
// ones. State is in memory (a restart forgets it), bounded in entries.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace vytal {

struct ThrottlePolicy {
  int free_failures = 3;          // failures before waits start
  int64_t first_wait_s = 2;       // then 2, 4, 8, ... seconds
  int64_t max_wait_s = 15 * 60;   // capped here
  int64_t forget_after_s = 3600;  // a key with no failure for this long starts over
  size_t max_entries = 10000;     // beyond: the entry idle longest is dropped
};

class LoginThrottle {
 public:
  LoginThrottle(const Clock& clock, ThrottlePolicy per_account, ThrottlePolicy per_address)
      : clock_(clock), account_policy_(per_account), address_policy_(per_address) {}

  // Seconds to wait before an attempt for (account, address) is heard; 0: go on.
  int64_t wait_seconds(const std::string& account, const std::string& address);
  void failed(const std::string& account, const std::string& address);
  // A successful login clears the account's failures (the address keeps its own).
  void succeeded(const std::string& account);

 private:
  struct Entry {
    int failures = 0;
    int64_t last_failure_ms = 0;
    int64_t locked_until_ms = 0;
  };
  using Table = std::unordered_map<std::string, Entry>;
  int64_t wait_of(Table& table, const ThrottlePolicy& policy, const std::string& key, int64_t now);
  void fail(Table& table, const ThrottlePolicy& policy, const std::string& key, int64_t now);

  const Clock& clock_;
  ThrottlePolicy account_policy_, address_policy_;
  std::mutex mu_;
  Table accounts_, addresses_;
};

}  // namespace vytal
