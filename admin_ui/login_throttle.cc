#include "admin_ui/login_throttle.h"

#include <algorithm>

namespace vytal {

int64_t LoginThrottle::wait_of(Table& table, const ThrottlePolicy& policy, const std::string& key, int64_t now) {
  auto it = table.find(key);
  if (it == table.end()) return 0;
  if (now - it->second.last_failure_ms > policy.forget_after_s * 1000) {
    table.erase(it);
    return 0;
  }
  int64_t left_ms = it->second.locked_until_ms - now;
  return left_ms > 0 ? (left_ms + 999) / 1000 : 0;
}

void LoginThrottle::fail(Table& table, const ThrottlePolicy& policy, const std::string& key, int64_t now) {
  if (table.size() >= policy.max_entries && !table.count(key)) {
    auto oldest = std::min_element(table.begin(), table.end(), [](const auto& a, const auto& b) {
      return a.second.last_failure_ms < b.second.last_failure_ms;
    });
    table.erase(oldest);
  }
  Entry& e = table[key];
  if (e.failures && now - e.last_failure_ms > policy.forget_after_s * 1000) e = Entry{};
  ++e.failures;
  e.last_failure_ms = now;
  int excess = e.failures - policy.free_failures;
  if (excess > 0) {
    int64_t wait = policy.first_wait_s;
    for (int i = 1; i < excess && wait < policy.max_wait_s; ++i) wait *= 2;
    e.locked_until_ms = now + std::min(wait, policy.max_wait_s) * 1000;
  }
}

int64_t LoginThrottle::wait_seconds(const std::string& account, const std::string& address) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.monotonic_ms();
  return std::max(wait_of(accounts_, account_policy_, account, now),
                  wait_of(addresses_, address_policy_, address, now));
}

void LoginThrottle::failed(const std::string& account, const std::string& address) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.monotonic_ms();
  fail(accounts_, account_policy_, account, now);
  fail(addresses_, address_policy_, address, now);
}

void LoginThrottle::succeeded(const std::string& account) {
  std::lock_guard lock(mu_);
  accounts_.erase(account);
}

}  // namespace vytal
