// Per-subject limits under an injected clock: bursts, refill, the time to
// wait, one subject not affecting another, privileged tokens exempt.
#include "signald/subject_limits.h"

#include <gtest/gtest.h>

namespace vytal {
namespace {

SubjectLimitSettings small() {
  SubjectLimitSettings s;
  s.creates_per_minute = 10;  // one every 6 s
  s.create_burst = 3;
  s.writes_per_minute = 60;
  s.write_burst = 2;
  s.max_sessions = 2;
  return s;
}

TEST(SubjectLimitsTest, CreatesBurstThenRefillWithTime) {
  ManualClock clock(1'800'000'000'000);
  SubjectLimits limits(small(), clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.charge("p-1", Role::patient, WriteKind::create), 0) << i;
  EXPECT_EQ(limits.charge("p-1", Role::patient, WriteKind::create), 6) << "seconds until the next token";
  EXPECT_EQ(limits.charge("p-2", Role::patient, WriteKind::create), 0) << "another subject has its own bucket";
  EXPECT_EQ(limits.charge("p-1", Role::patient, WriteKind::other), 0) << "other writes are a separate bucket";
  clock.advance_ms(3'000);
  EXPECT_EQ(limits.charge("p-1", Role::patient, WriteKind::create), 3);
  clock.advance_ms(3'000);
  EXPECT_EQ(limits.charge("p-1", Role::patient, WriteKind::create), 0);
  EXPECT_EQ(limits.charge("p-1", Role::patient, WriteKind::create), 6);
  clock.advance_ms(3'600'000);  // an hour idle: back to the burst, no more
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.charge("p-1", Role::patient, WriteKind::create), 0) << i;
  EXPECT_GT(limits.charge("p-1", Role::patient, WriteKind::create), 0);
}

TEST(SubjectLimitsTest, ServiceAndAdminAreExemptUnlessConfigured) {
  ManualClock clock(1'800'000'000'000);
  SubjectLimits exempt(small(), clock);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(exempt.charge("platform", Role::service, WriteKind::create), 0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(exempt.open_session("platform", Role::service));
  SubjectLimitSettings s = small();
  s.service_writes_per_minute = 5;
  SubjectLimits limited(s, clock);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limited.charge("adm", Role::admin, WriteKind::other), 0);
  EXPECT_EQ(limited.charge("adm", Role::admin, WriteKind::other), 12);
}

TEST(SubjectLimitsTest, SessionsPerSubject) {
  ManualClock clock(1'800'000'000'000);
  SubjectLimits limits(small(), clock);
  EXPECT_TRUE(limits.open_session("p-1", Role::patient));
  EXPECT_TRUE(limits.open_session("p-1", Role::provider));
  EXPECT_FALSE(limits.open_session("p-1", Role::patient));
  EXPECT_TRUE(limits.open_session("p-2", Role::patient));
  limits.close_session("p-1", Role::patient);
  EXPECT_TRUE(limits.open_session("p-1", Role::patient));
}

TEST(SubjectLimitsTest, FullBucketsAreForgotten) {
  ManualClock clock(1'800'000'000'000);
  SubjectLimits limits(small(), clock);
  for (int i = 0; i < 100; ++i) limits.charge("p-" + std::to_string(i), Role::patient, WriteKind::create);
  EXPECT_EQ(limits.tracked_subjects(), 100u);
  clock.advance_ms(61'000);  // all refilled
  limits.charge("p-new", Role::patient, WriteKind::create);
  EXPECT_EQ(limits.tracked_subjects(), 1u);
}

}  // namespace
}  // namespace vytal

namespace vytal {
namespace {

// A subject's refused reads queue an audit row each only up to its
// denied_audits_per_minute; past it nothing is queued (REST answers 403 and
// counts audit_suppressed), so refusals cannot fill the shared commit queue.
TEST(SubjectLimitsTest, RefusalsAuditedUpToTheirRateThenNotQueued) {
  ManualClock clock(1'800'000'000'000);
  SubjectLimitSettings s = small();
  s.denied_audits_per_minute = 4;
  SubjectLimits limits(s, clock);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limits.may_audit_refusal("p-snoop")) << i;
  EXPECT_FALSE(limits.may_audit_refusal("p-snoop"));
  EXPECT_TRUE(limits.may_audit_refusal("p-other")) << "per subject";
  clock.advance_ms(15000);  // one a quarter minute
  EXPECT_TRUE(limits.may_audit_refusal("p-snoop"));
  EXPECT_FALSE(limits.may_audit_refusal("p-snoop"));
  s.denied_audits_per_minute = 0;
  SubjectLimits unlimited(s, clock);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(unlimited.may_audit_refusal("p-snoop"));
}

}  // namespace
}  // namespace vytal
