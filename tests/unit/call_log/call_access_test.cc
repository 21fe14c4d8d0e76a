// Who may end, cancel and invite, table by table: rights follow the role a
// participant was invited with, not the role in their token.
#include "call_log/call_access.h"

#include <gtest/gtest.h>

#include <string>

namespace vytal {
namespace {

CallRecord call_with_invitees() {
  CallRecord c;
  c.id = "01900000-0000-7000-8000-000000000001";
  c.patient_id = "pat-1";
  c.provider_id = "prov-1";
  auto invite = [&c](const std::string& user, const std::string& role, const std::string& status = "invited") {
    ParticipantRecord p;
    p.user_id = user;
    p.role = role;
    p.status = status;
    c.participants.push_back(p);
  };
  invite("pat-1", "patient", "joined");
  invite("prov-1", "provider", "joined");
  invite("obs-1", "observer");
  invite("interp-1", "interpreter", "joined");
  invite("fam-1", "family");
  invite("care-1", "caregiver");
  invite("coprov-1", "provider");
  invite("gone-1", "provider", "removed");
  return c;
}

struct Right {
  const char* name;
  Actor actor;
  bool view, manage, invite, join;
};

class CallRightsTest : public ::testing::TestWithParam<Right> {};

TEST_P(CallRightsTest, FollowTheInvitationRole) {
  const Right& r = GetParam();
  CallRecord c = call_with_invitees();
  EXPECT_EQ(can_view_call(r.actor, c), r.view) << "view";
  EXPECT_EQ(can_manage_call(r.actor, c), r.manage) << "end / cancel";
  EXPECT_EQ(can_invite_to_call(r.actor, c), r.invite) << "invite";
  EXPECT_EQ(can_join_call(r.actor, c), r.join) << "join (and a TURN credential for the call)";
}

// An operator removed the call's own patient: they still see their call,
// but neither join it nor get a TURN credential for it (GET
// /webrtc/ice-servers?callId= asks can_join_call).
TEST(CallRightsRemovalTest, TheCallsOwnPatientRemovedFromItStaysOut) {
  CallRecord c = call_with_invitees();
  for (ParticipantRecord& p : c.participants)
    if (p.user_id == "pat-1") p.status = "removed";
  Actor patient{"pat-1", Role::patient, ""};
  EXPECT_TRUE(can_view_call(patient, c));
  EXPECT_FALSE(can_join_call(patient, c));
  EXPECT_TRUE(can_join_call({"prov-1", Role::provider, ""}, c));
}

INSTANTIATE_TEST_SUITE_P(
    Actors, CallRightsTest,
    ::testing::Values(
        // The patient hangs up (ends or calls off) their own call, invites nobody.
        Right{"patient_own", {"pat-1", Role::patient, ""}, true, true, false, true},
        Right{"provider_own", {"prov-1", Role::provider, ""}, true, true, true, true},
        Right{"service", {"platform", Role::service, ""}, true, true, true, true},
        Right{"admin", {"adm-1", Role::admin, ""}, true, true, true, true},
        // Invited with a role that only takes part, whatever the token says.
        Right{"observer_with_provider_token", {"obs-1", Role::provider, ""}, true, false, false, true},
        Right{"interpreter_with_provider_token", {"interp-1", Role::provider, ""}, true, false, false, true},
        Right{"family_with_patient_token", {"fam-1", Role::patient, ""}, true, false, false, true},
        Right{"family_with_provider_token", {"fam-1", Role::provider, ""}, true, false, false, true},
        Right{"caregiver_with_provider_token", {"care-1", Role::provider, ""}, true, false, false, true},
        // A co-provider invited as provider, with a provider token, runs the call too.
        Right{"coprovider", {"coprov-1", Role::provider, ""}, true, true, true, true},
        // Invited as provider but holding a patient token: takes part only.
        Right{"coprovider_with_patient_token", {"coprov-1", Role::patient, ""}, true, false, false, true},
        Right{"removed_provider", {"gone-1", Role::provider, ""}, false, false, false, false},
        Right{"stranger_provider", {"prov-9", Role::provider, ""}, false, false, false, false},
        Right{"stranger_patient", {"pat-9", Role::patient, ""}, false, false, false, false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace vytal
