// An injectable clock: production reads the system time, tests set it.
#pragma once

#include <chrono>
#include <cstdint>

namespace vytal {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;  // Unix time in milliseconds
  int64_t now_s() const { return now_ms() / 1000; }
  // For intervals and deadlines: never steps back when the wall clock is set.
  virtual int64_t monotonic_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t monotonic_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t ms) : ms_(ms) {}
  int64_t now_ms() const override { return ms_; }
  // Far from the wall clock, as the real one is: mixing the two shows in tests.
  int64_t monotonic_ms() const override { return ms_ - 1'000'000'000'000; }
  void advance_ms(int64_t d) { ms_ += d; }

 private:
  int64_t ms_;
};

}  // namespace vytal
