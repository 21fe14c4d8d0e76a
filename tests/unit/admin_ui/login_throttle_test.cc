#include "admin_ui/login_throttle.h"

#include <gtest/gtest.h>

namespace vytal {
namespace {

class LoginThrottleTest : public ::testing::Test {
 protected:
  ManualClock clock{1'800'000'000'000};
  LoginThrottle throttle{clock, ThrottlePolicy{}, ThrottlePolicy{.free_failures = 20}};
};

TEST_F(LoginThrottleTest, ThreeFreeFailuresThenWaitsDouble) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.1"), 0);
    throttle.failed("alice", "10.0.0.1");
  }
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.1"), 0) << "the third failure is still free";
  throttle.failed("alice", "10.0.0.1");
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.1"), 2);
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.2"), 2) << "per account, from any address";
  clock.advance_ms(1500);
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.1"), 1);
  clock.advance_ms(500);
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.1"), 0);
  throttle.failed("alice", "10.0.0.1");
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.1"), 4);
  clock.advance_ms(4000);
  throttle.failed("alice", "10.0.0.1");
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.1"), 8);
  EXPECT_EQ(throttle.wait_seconds("bob", "10.0.0.9"), 0) << "another account, another address";
}

TEST_F(LoginThrottleTest, WaitsAreCappedAndForgottenAfterAnHour) {
  for (int i = 0; i < 40; ++i) throttle.failed("alice", "10.0.0." + std::to_string(i));
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.99"), 15 * 60);
  clock.advance_ms(3601 * 1000);
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.99"), 0);
  throttle.failed("alice", "10.0.0.99");
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.99"), 0) << "counting starts over";
}

TEST_F(LoginThrottleTest, AnAddressTryingManyAccountsIsThrottled) {
  for (int i = 0; i < 20; ++i) throttle.failed("name" + std::to_string(i), "192.0.2.7");
  EXPECT_EQ(throttle.wait_seconds("fresh-name", "192.0.2.7"), 0);
  throttle.failed("name20", "192.0.2.7");
  EXPECT_EQ(throttle.wait_seconds("fresh-name", "192.0.2.7"), 2);
  EXPECT_EQ(throttle.wait_seconds("fresh-name", "192.0.2.8"), 0);
}

TEST_F(LoginThrottleTest, SuccessClearsTheAccountNotTheAddress) {
  for (int i = 0; i < 4; ++i) throttle.failed("alice", "10.0.0.1");
  clock.advance_ms(2000);
  throttle.succeeded("alice");
  throttle.failed("alice", "10.0.0.1");
  EXPECT_EQ(throttle.wait_seconds("alice", "10.0.0.3"), 0) << "the account starts over";
}

TEST(LoginThrottleBoundTest, KeepsAtMostMaxEntries) {
  ManualClock clock(1'800'000'000'000);
  LoginThrottle throttle(clock, ThrottlePolicy{.free_failures = 0, .max_entries = 3},
                         ThrottlePolicy{.free_failures = 100, .max_entries = 3});
  for (int i = 0; i < 4; ++i) {
    clock.advance_ms(10);
    throttle.failed("n" + std::to_string(i), "a");
  }
  EXPECT_EQ(throttle.wait_seconds("n0", "b"), 0) << "the entry idle longest was dropped";
  EXPECT_EQ(throttle.wait_seconds("n3", "b"), 2);
}

}  // namespace
}  // namespace vytal
