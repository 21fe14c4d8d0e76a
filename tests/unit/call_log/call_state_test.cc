#include "call_log/call_state.h"

#include <gtest/gtest.h>

namespace vytal {
namespace {

struct Transition {
  CallStatus from;
  CallEvent event;
  std::optional<CallStatus> to;
};

class CallStateTest : public ::testing::TestWithParam<Transition> {};

TEST_P(CallStateTest, FollowsTheTable) {
  const Transition& t = GetParam();
  EXPECT_EQ(next_call_status(t.from, t.event), t.to) << call_status_name(t.from) << " + " << call_event_name(t.event);
}

using S = CallStatus;
using E = CallEvent;
INSTANTIATE_TEST_SUITE_P(
    AllTransitions, CallStateTest,
    ::testing::Values(Transition{S::scheduled, E::start, S::active}, Transition{S::scheduled, E::end, S::missed},
                      Transition{S::scheduled, E::cancel, S::cancelled}, Transition{S::scheduled, E::fail, S::failed},
                      Transition{S::active, E::end, S::ended}, Transition{S::active, E::fail, S::failed},
                      Transition{S::active, E::start, std::nullopt}, Transition{S::active, E::cancel, std::nullopt},
                      Transition{S::ended, E::end, std::nullopt}, Transition{S::ended, E::start, std::nullopt},
                      Transition{S::missed, E::start, std::nullopt}, Transition{S::cancelled, E::end, std::nullopt},
                      Transition{S::cancelled, E::cancel, std::nullopt}, Transition{S::failed, E::end, std::nullopt},
                      Transition{S::failed, E::start, std::nullopt}));

TEST(CallStateTest, TerminalStatusesAcceptNoEvent) {
  for (S s : kAllCallStatuses) {
    if (!is_terminal(s)) continue;
    for (E e : {E::start, E::end, E::cancel, E::fail}) EXPECT_FALSE(next_call_status(s, e)) << call_status_name(s);
  }
}

TEST(CallStateTest, NamesRoundTrip) {
  for (S s : kAllCallStatuses) EXPECT_EQ(parse_call_status(call_status_name(s)), s);
  EXPECT_FALSE(parse_call_status("Active"));
}

}  // namespace
}  // namespace vytal
