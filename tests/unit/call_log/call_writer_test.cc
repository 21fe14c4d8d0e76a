#include "call_log/call_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "call_log/call_reader.h"
#include "call_log/schema.h"
#include "call_log/sync_tables.h"
#include "common/crypto.h"

// CallWriter and CallReader against a real SQLite call log in a temporary
// directory, with a ManualClock so every duration is exact.

namespace vytal {
namespace {

constexpr int64_t kT0 = 1700000000000;  // 2023-11-14T22:13:20Z

const Actor kPatient{"pat-1", Role::patient, "10.0.0.1"};
const Actor kOtherPatient{"pat-2", Role::patient, "10.0.0.2"};
const Actor kProvider{"prov-1", Role::provider, "10.0.0.3"};
const Actor kStranger{"prov-9", Role::provider, "10.0.0.9"};
const Actor kAdmin{"adm-1", Role::admin, "10.0.0.10"};
const Actor kService{"platform", Role::service, "10.0.0.11"};

NewCall video_call(const std::string& patient = "pat-1", const std::string& provider = "prov-1") {
  NewCall c;
  c.patient_id = patient;
  c.provider_id = provider;
  c.type = "video";
  return c;
}

std::string status_of(const CallRecord& c) { return call_status_name(c.status); }

class CallLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vytal-call-log-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto db = sqlite_open(dir_ + "/calls.db", SqliteOpenOptions{});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db.value());
    auto applied = apply_migrations(db_.get(), call_log_migrations(), clock_.now_ms());
    ASSERT_TRUE(applied.ok()) << applied.error().message;
    ASSERT_EQ(applied.value(), static_cast<int>(call_log_migrations().size()));
    writer_ = std::make_unique<CallWriter>(db_.get(), clock_, max_participants_);
    reader_ = std::make_unique<CallReader>(db_.get());
  }

  void TearDown() override {
    writer_.reset();
    reader_.reset();
    db_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  sqlite3* db() { return db_.get(); }

  // Runs one writer operation in its own transaction, as CommitQueue would.
  template <typename F>
  Result<CallUpdate> in_tx(F&& op) {
    std::string error;
    EXPECT_TRUE(sqlite_exec(db(), "BEGIN IMMEDIATE", &error)) << error;
    Result<CallUpdate> r = op(*writer_);
    EXPECT_TRUE(sqlite_exec(db(), "COMMIT", &error)) << error;
    return r;
  }

  Result<CallUpdate> create(const NewCall& c, const Actor& a) {
    return in_tx([&](CallWriter& w) { return w.create(c, a); });
  }
  Result<CallUpdate> join(const std::string& id, const Actor& a) {
    return in_tx([&](CallWriter& w) { return w.join(id, a); });
  }
  Result<CallUpdate> leave(const std::string& id, const Actor& a) {
    return in_tx([&](CallWriter& w) { return w.leave(id, a, "left", clock_.now_ms()); });
  }
  Result<CallUpdate> end(const std::string& id, const Actor& a, const std::string& reason = "") {
    return in_tx([&](CallWriter& w) { return w.end(id, a, reason); });
  }
  Result<CallUpdate> cancel(const std::string& id, const Actor& a) {
    return in_tx([&](CallWriter& w) { return w.cancel(id, a, ""); });
  }
  Result<CallUpdate> add(const std::string& id, const Actor& a, const std::string& user,
                         const std::string& role = "family") {
    return in_tx([&](CallWriter& w) { return w.add_participant(id, a, user, role); });
  }

  // Creates a call between kPatient and kProvider and returns its id.
  std::string new_call() {
    auto r = create(video_call(), kProvider);
    EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
    return r.ok() ? r->call.id : std::string();
  }

  CallRecord fetch(const std::string& id) {
    auto got = reader_->get(id);
    if (!got.ok() || !got.value()) {
      ADD_FAILURE() << "call " << id << " cannot be read back";
      return {};
    }
    return *got.value();
  }

  static const ParticipantRecord* participant(const CallRecord& c, const std::string& user) {
    for (const ParticipantRecord& p : c.participants)
      if (p.user_id == user) return &p;
    return nullptr;
  }

  int64_t scalar(const std::string& sql) {
    auto s = Statement::prepare(db(), sql);
    if (!s.ok()) {
      ADD_FAILURE() << sql << ": " << s.error().message;
      return -1;
    }
    if (s->step() != SQLITE_ROW) {
      ADD_FAILURE() << sql << ": no row";
      return -1;
    }
    return s->integer(0);
  }

  std::vector<std::string> texts(const std::string& sql) {
    std::vector<std::string> out;
    auto s = Statement::prepare(db(), sql);
    if (!s.ok()) {
      ADD_FAILURE() << sql << ": " << s.error().message;
      return out;
    }
    while (s->step() == SQLITE_ROW) out.push_back(s->text(0));
    return out;
  }

  // The highest change_seq in any synchronized table.
  int64_t max_change_seq() {
    int64_t m = 0;
    for (const SyncTable& table : sync_tables())
      m = std::max(m, scalar(std::string("SELECT coalesce(max(change_seq), 0) FROM ") + table.name));
    return m;
  }

  int max_participants_ = 6;
  std::string dir_;
  ManualClock clock_{kT0};
  SqlitePtr db_;
  std::unique_ptr<CallWriter> writer_;
  std::unique_ptr<CallReader> reader_;
};

// --- creation -------------------------------------------------------------------

TEST_F(CallLogTest, CreateThenGetReturnsTheRow) {
  NewCall in = video_call();
  in.appointment_id = "appt-1";
  in.scheduled_at = kT0 + 3600000;
  auto r = create(in, kProvider);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->from.has_value());
  EXPECT_TRUE(is_uuid(r->call.id)) << r->call.id;

  CallRecord c = fetch(r->call.id);
  EXPECT_EQ(c.id, r->call.id);
  EXPECT_EQ(c.patient_id, "pat-1");
  EXPECT_EQ(c.provider_id, "prov-1");
  EXPECT_EQ(c.appointment_id, "appt-1");
  EXPECT_EQ(c.type, "video");
  EXPECT_EQ(status_of(c), "scheduled");
  EXPECT_EQ(c.scheduled_at, kT0 + 3600000);
  EXPECT_FALSE(c.started_at.has_value());
  EXPECT_FALSE(c.ended_at.has_value());
  EXPECT_FALSE(c.duration_ms.has_value());
  EXPECT_FALSE(c.end_reason.has_value());
  EXPECT_EQ(c.created_by, "prov-1");
  EXPECT_EQ(c.created_at, kT0);
  EXPECT_EQ(c.updated_at, kT0);
  EXPECT_EQ(c.version, 1);
  EXPECT_TRUE(c.participants.empty());

  EXPECT_EQ(scalar("SELECT count(*) FROM call_events WHERE type = 'created' AND call_id = '" + c.id + "'"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE action = 'call.create' AND outcome = 'ok' AND call_id = '" +
                   c.id + "' AND actor_id = 'prov-1' AND actor_role = 'provider' AND remote_addr = '10.0.0.3'"),
            1);
}

TEST_F(CallLogTest, GetUnknownCallIsEmpty) {
  auto got = reader_->get("018bcfe5-6800-7abc-8def-0123456789ab");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_FALSE(got.value().has_value());
}

TEST_F(CallLogTest, MigrationsApplyOnce) {
  const int latest = call_log_migrations().back().version;
  EXPECT_EQ(schema_version(db()), latest);
  auto again = apply_migrations(db(), call_log_migrations(), kT0 + 1);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value(), 0);
  EXPECT_EQ(schema_version(db()), latest);
  EXPECT_EQ(scalar("SELECT count(*) FROM schema_migrations"), static_cast<int64_t>(call_log_migrations().size()));
}

// The call log keeps only indexes its own queries read (migrations 6 and 7
// dropped three the platform's guide has), and each status query it runs
// still finds its calls, and their participants, through an index rather
// than by reading every call or every participant.
TEST_F(CallLogTest, StatusQueriesUseAnIndexAndUnreadIndexesAreGone) {
  EXPECT_EQ(scalar("SELECT count(*) FROM sqlite_master WHERE name IN ('idx_calls_status_scheduled', "
                   "'idx_calls_appointment', 'idx_participants_call_status')"),
            0);
  auto plan = [&](const char* sql) {
    Statement s(db(), (std::string("EXPLAIN QUERY PLAN ") + sql).c_str());
    std::string detail;
    while (s.step() == SQLITE_ROW) detail += s.text(3) + "; ";
    return detail;
  };
  for (const char* sql :
       {"SELECT count(*) FROM calls WHERE status = 'active'", "SELECT status, count(*) FROM calls GROUP BY status",
        "SELECT count(*) FROM calls WHERE status = 'ended' AND created_at >= 0",
        "SELECT c.id FROM calls c WHERE c.status = 'active'"}) {
    std::string detail = plan(sql);
    EXPECT_NE(detail.find("USING COVERING INDEX idx_calls_status_created"), std::string::npos) << sql << ": " << detail;
  }
  // The participant queries of the status page and of the restart's
  // recovery: calls by status, then each call's participants by the call.
  for (const char* sql :
       {"SELECT count(*) FROM calls c JOIN call_participants p ON p.call_id = c.id AND p.status = 'reconnecting' "
        "WHERE c.status = 'active'",
        "SELECT DISTINCT p.call_id FROM call_participants p JOIN calls c ON c.id = p.call_id WHERE p.status IN "
        "('joined', 'reconnecting') AND c.status IN ('scheduled', 'active')",
        "SELECT c.id FROM calls c WHERE c.status = 'active' AND NOT EXISTS (SELECT 1 FROM call_participants p "
        "WHERE p.call_id = c.id AND p.status IN ('joined', 'reconnecting'))"}) {
    std::string detail = plan(sql);
    EXPECT_NE(detail.find("INDEX idx_calls_status_created"), std::string::npos) << sql << ": " << detail;
    EXPECT_NE(detail.find("SEARCH p USING INDEX idx_participants_call_user (call_id=?)"), std::string::npos)
        << sql << ": " << detail;
    EXPECT_EQ(detail.find("SCAN p"), std::string::npos) << sql << ": " << detail;
  }
}

TEST_F(CallLogTest, MigrationsAreNumberedInOrder) {
  int expected = 1;
  for (const Migration& m : call_log_migrations()) EXPECT_EQ(m.version, expected++) << m.name;
}

struct CreateRight {
  const char* name;
  Actor actor;
  const char* patient_id;
  const char* provider_id;
  bool allowed;
};

class CallCreateRightsTest : public CallLogTest, public ::testing::WithParamInterface<CreateRight> {};

TEST_P(CallCreateRightsTest, OnlyOwnCallsUnlessPrivileged) {
  const CreateRight& t = GetParam();
  auto r = create(video_call(t.patient_id, t.provider_id), t.actor);
  std::string who = "actor_id = '" + t.actor.sub + "' AND action = 'call.create'";
  if (t.allowed) {
    ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
    EXPECT_EQ(scalar("SELECT count(*) FROM calls"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE outcome = 'ok' AND " + who), 1);
    return;
  }
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "forbidden");
  EXPECT_EQ(scalar("SELECT count(*) FROM calls"), 0) << "a refused create writes no call";
  EXPECT_EQ(scalar("SELECT count(*) FROM call_events"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE outcome = 'denied' AND actor_role = '" +
                   std::string(role_name(t.actor.role)) + "' AND " + who),
            1)
      << "a refusal is audited";
}

INSTANTIATE_TEST_SUITE_P(
    Actors, CallCreateRightsTest,
    ::testing::Values(CreateRight{"patient_own", kPatient, "pat-1", "prov-1", true},
                      CreateRight{"patient_for_other_patient", kOtherPatient, "pat-1", "prov-1", false},
                      CreateRight{"provider_own", kProvider, "pat-1", "prov-1", true},
                      CreateRight{"provider_for_other_provider", kStranger, "pat-1", "prov-1", false},
                      CreateRight{"admin_any", kAdmin, "pat-1", "prov-1", true},
                      CreateRight{"service_any", kService, "pat-7", "prov-7", true}),
    [](const auto& info) { return std::string(info.param.name); });

// A refused create concerns no call: its audit row's call_id must be NULL (as
// for refused reads), not an empty string that matches no call and is no UUID.
TEST_F(CallLogTest, DeniedCreateAuditRowHasNoCallId) {
  auto r = create(video_call("pat-1", "prov-1"), kOtherPatient);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE outcome = 'denied' AND call_id IS NULL"), 1)
      << "stored call_id: " << ::testing::PrintToString(texts("SELECT quote(call_id) FROM audit_log"));
}

// --- durations -------------------------------------------------------------------

// Patient joins at t, provider at t+5 s (the call starts), patient drops at
// t+65 s and rejoins at t+70 s, provider ends the call at t+125 s.
class CallDurationTest : public CallLogTest {
 protected:
  void SetUp() override {
    CallLogTest::SetUp();
    if (HasFatalFailure()) return;
    id_ = new_call();
    auto p1 = join(id_, kPatient);
    ASSERT_TRUE(p1.ok()) << p1.error().message;
    EXPECT_EQ(status_of(p1->call), "scheduled") << "one person in is not a call yet";

    clock_.advance_ms(5000);
    auto p2 = join(id_, kProvider);
    ASSERT_TRUE(p2.ok()) << p2.error().message;
    EXPECT_EQ(status_of(p2->call), "active");
    EXPECT_EQ(p2->from, CallStatus::scheduled);
    EXPECT_EQ(p2->call.started_at, kT0 + 5000);

    clock_.advance_ms(60000);
    ASSERT_TRUE(leave(id_, kPatient).ok());
    clock_.advance_ms(5000);
    ASSERT_TRUE(join(id_, kPatient).ok());
    clock_.advance_ms(55000);
    ended_ = std::make_unique<Result<CallUpdate>>(end(id_, kProvider));
    ASSERT_TRUE(ended_->ok()) << ended_->error().message;
  }

  std::string id_;
  std::unique_ptr<Result<CallUpdate>> ended_;
};

TEST_F(CallDurationTest, CallAndProviderDurationsAreExact) {
  EXPECT_EQ((*ended_)->from, CallStatus::active);
  CallRecord c = fetch(id_);
  EXPECT_EQ(status_of(c), "ended");
  EXPECT_EQ(c.started_at, kT0 + 5000);
  EXPECT_EQ(c.ended_at, kT0 + 125000);
  EXPECT_EQ(c.duration_ms, 120000);
  EXPECT_EQ(c.end_reason, "hung_up");
  EXPECT_EQ(c.updated_at, kT0 + 125000);

  const ParticipantRecord* provider = participant(c, "prov-1");
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->role, "provider");
  EXPECT_EQ(provider->status, "left");
  EXPECT_EQ(provider->joined_at, kT0 + 5000);
  EXPECT_EQ(provider->left_at, kT0 + 125000);
  EXPECT_EQ(provider->duration_ms, 120000);

  const ParticipantRecord* patient = participant(c, "pat-1");
  ASSERT_NE(patient, nullptr);
  EXPECT_EQ(patient->role, "patient");
  EXPECT_EQ(patient->status, "left");
  EXPECT_EQ(patient->left_at, kT0 + 125000);
}

// The patient was in the active call from t+5 s to t+65 s and from t+70 s to
// t+125 s: 60 s + 55 s. The 5 s spent waiting before the call started are not
// call time (a participant's duration cannot exceed the call's).
TEST_F(CallDurationTest, PatientDurationCountsOnlyTimeInTheActiveCall) {
  CallRecord c = fetch(id_);
  const ParticipantRecord* patient = participant(c, "pat-1");
  ASSERT_NE(patient, nullptr);
  EXPECT_EQ(patient->duration_ms, 60000 + 55000);
  ASSERT_TRUE(c.duration_ms.has_value());
  EXPECT_LE(patient->duration_ms, *c.duration_ms);
}

// Same rule when the call never starts: a patient who waited alone for 30 s
// in a call that ends as missed (duration 0) was in no call.
TEST_F(CallLogTest, WaitingAloneInAMissedCallIsNoCallTime) {
  std::string id = new_call();
  ASSERT_TRUE(join(id, kPatient).ok());
  clock_.advance_ms(30000);
  ASSERT_TRUE(leave(id, kPatient).ok());
  clock_.advance_ms(10000);
  auto r = end(id, kProvider);
  ASSERT_TRUE(r.ok()) << r.error().message;
  CallRecord c = fetch(id);
  EXPECT_EQ(status_of(c), "missed");
  EXPECT_EQ(c.duration_ms, 0);
  const ParticipantRecord* patient = participant(c, "pat-1");
  ASSERT_NE(patient, nullptr);
  EXPECT_EQ(patient->duration_ms, 0);
}

// --- transitions -----------------------------------------------------------------

TEST_F(CallLogTest, EndingAScheduledCallMakesItMissed) {
  std::string id = new_call();
  clock_.advance_ms(1000);
  auto r = end(id, kPatient, "no_answer");
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
  EXPECT_EQ(r->from, CallStatus::scheduled);
  CallRecord c = fetch(id);
  EXPECT_EQ(status_of(c), "missed");
  EXPECT_FALSE(c.started_at.has_value());
  EXPECT_EQ(c.ended_at, kT0 + 1000);
  EXPECT_EQ(c.duration_ms, 0) << "set to 0, not left NULL";
  EXPECT_EQ(c.end_reason, "no_answer");
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM call_events WHERE type = 'missed' AND call_id = '" + id + "'"), 1);
}

TEST_F(CallLogTest, CancellingAScheduledCall) {
  std::string id = new_call();
  auto r = cancel(id, kProvider);
  ASSERT_TRUE(r.ok()) << r.error().message;
  CallRecord c = fetch(id);
  EXPECT_EQ(status_of(c), "cancelled");
  EXPECT_EQ(c.end_reason, "cancelled");
}

TEST_F(CallLogTest, CancellingAnActiveCallIsAnInvalidTransition) {
  std::string id = new_call();
  ASSERT_TRUE(join(id, kPatient).ok());
  ASSERT_TRUE(join(id, kProvider).ok());
  CallRecord before = fetch(id);
  ASSERT_EQ(status_of(before), "active");

  clock_.advance_ms(1000);
  auto r = cancel(id, kProvider);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_transition");
  CallRecord after = fetch(id);
  EXPECT_EQ(status_of(after), "active");
  EXPECT_EQ(after.version, before.version);
  EXPECT_EQ(after.updated_at, before.updated_at);
}

TEST_F(CallLogTest, EndingTwiceIsAnInvalidTransition) {
  std::string id = new_call();
  ASSERT_TRUE(join(id, kPatient).ok());
  ASSERT_TRUE(join(id, kProvider).ok());
  clock_.advance_ms(42000);
  ASSERT_TRUE(end(id, kProvider).ok());
  CallRecord first = fetch(id);

  clock_.advance_ms(10000);
  auto again = end(id, kPatient);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "invalid_transition");
  CallRecord c = fetch(id);
  EXPECT_EQ(status_of(c), "ended");
  EXPECT_EQ(c.duration_ms, 42000);
  EXPECT_EQ(c.ended_at, first.ended_at);
  EXPECT_EQ(c.version, first.version);
}

TEST_F(CallLogTest, AnEndedCallCannotBeJoinedOrJoinedTo) {
  std::string id = new_call();
  ASSERT_TRUE(end(id, kProvider).ok());
  auto j = join(id, kPatient);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, "invalid_transition");
  auto a = add(id, kProvider, "fam-1");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, "invalid_transition");
}

TEST_F(CallLogTest, ARemovedParticipantIsAuditedAndCannotJoinAgain) {
  std::string id = new_call();
  ASSERT_TRUE(join(id, kPatient).ok());
  ASSERT_TRUE(join(id, kProvider).ok());
  AuditRecord why = make_audit_record(clock_, "olga", "operator", "admin.participant.remove", "ok", "10.0.0.20",
                                      "removed pat-1: wrong room", id);
  auto removed = in_tx([&](CallWriter& w) { return w.remove(id, kPatient.sub, why); });
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed->reason, "removed");
  CallRecord c = fetch(id);
  EXPECT_EQ(c.status, CallStatus::active);  // the provider is still in it
  for (const ParticipantRecord& p : c.participants)
    EXPECT_EQ(p.status, p.user_id == kPatient.sub ? "removed" : "joined") << p.user_id;
  Statement audit(db(), "SELECT actor_id, detail FROM audit_log WHERE action = 'admin.participant.remove'");
  ASSERT_EQ(audit.step(), SQLITE_ROW);
  EXPECT_EQ(audit.text(0), "olga");
  EXPECT_EQ(audit.text(1), "removed pat-1: wrong room");
  auto again = join(id, kPatient);  // the call's own patient, yet refused
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "removed");
  auto twice = in_tx([&](CallWriter& w) { return w.remove(id, kPatient.sub, why); });
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, "not_participant");
}

TEST_F(CallLogTest, UnknownCall) {
  auto r = end("018bcfe5-6800-7abc-8def-0123456789ab", kAdmin);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "call_not_found");
}

// --- participants ----------------------------------------------------------------

struct CapacityCase {
  int max_participants;
  bool principals_joined;  // the patient and provider already have participant rows
};

class CallCapacityTest : public CallLogTest, public ::testing::WithParamInterface<CapacityCase> {
 protected:
  CallCapacityTest() { max_participants_ = GetParam().max_participants; }
};

TEST_P(CallCapacityTest, MaxParticipantsCountsPatientAndProvider) {
  const CapacityCase& t = GetParam();
  std::string id = new_call();
  if (t.principals_joined) {
    ASSERT_TRUE(join(id, kPatient).ok());
    ASSERT_TRUE(join(id, kProvider).ok());
  }
  for (int i = 0; i < t.max_participants - 2; ++i) {
    auto r = add(id, kProvider, "inv-" + std::to_string(i), "interpreter");
    ASSERT_TRUE(r.ok()) << "invitee " << i << ": " << r.error().code << ": " << r.error().message;
  }
  auto full = add(id, kProvider, "one-too-many", "observer");
  ASSERT_FALSE(full.ok()) << "a call of at most " << t.max_participants << " took a " << t.max_participants + 1
                          << "th participant";
  EXPECT_EQ(full.error().code, "call_full");
  EXPECT_EQ(scalar("SELECT count(*) FROM call_participants WHERE user_id = 'one-too-many'"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM call_participants WHERE user_id LIKE 'inv-%'"), t.max_participants - 2);
}

INSTANTIATE_TEST_SUITE_P(Limits, CallCapacityTest,
                         ::testing::Values(CapacityCase{2, false}, CapacityCase{3, false}, CapacityCase{6, false},
                                           CapacityCase{6, true}, CapacityCase{3, true}));

TEST_F(CallLogTest, AddingSomeoneAlreadyInTheCall) {
  std::string id = new_call();
  for (const char* user : {"pat-1", "prov-1"}) {
    auto r = add(id, kProvider, user);
    ASSERT_FALSE(r.ok()) << user;
    EXPECT_EQ(r.error().code, "already_participant") << user;
  }
  auto first = add(id, kProvider, "fam-1");
  ASSERT_TRUE(first.ok()) << first.error().message;
  const ParticipantRecord* p = participant(first->call, "fam-1");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->status, "invited");
  EXPECT_EQ(p->role, "family");
  auto second = add(id, kProvider, "fam-1");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "already_participant");
  EXPECT_EQ(scalar("SELECT count(*) FROM call_participants WHERE user_id = 'fam-1'"), 1);
}

TEST_F(CallLogTest, PatientsAndStrangersCannotInvite) {
  std::string id = new_call();
  for (const Actor& a : {kPatient, kStranger, kOtherPatient}) {
    auto r = add(id, a, "fam-1");
    ASSERT_FALSE(r.ok()) << a.sub;
    EXPECT_EQ(r.error().code, "forbidden") << a.sub;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM call_participants"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE action = 'participant.add' AND outcome = 'denied'"), 3);
}

TEST_F(CallLogTest, AStrangerCannotJoin) {
  std::string id = new_call();
  for (const Actor& a : {kStranger, kOtherPatient}) {
    auto r = join(id, a);
    ASSERT_FALSE(r.ok()) << a.sub;
    EXPECT_EQ(r.error().code, "forbidden") << a.sub;
    EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE action = 'call.join' AND outcome = 'denied' AND "
                     "actor_id = '" +
                     a.sub + "' AND call_id = '" + id + "'"),
              1);
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM call_participants"), 0);
  EXPECT_EQ(status_of(fetch(id)), "scheduled");
}

TEST_F(CallLogTest, AnInviteeCanJoinAndLeave) {
  std::string id = new_call();
  ASSERT_TRUE(add(id, kProvider, "fam-1").ok());
  const Actor family{"fam-1", Role::patient, "10.0.0.20"};
  clock_.advance_ms(1000);
  auto j = join(id, family);
  ASSERT_TRUE(j.ok()) << j.error().message;
  CallRecord call = fetch(id);  // p points into it
  const ParticipantRecord* p = participant(call, "fam-1");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->status, "joined");
  EXPECT_EQ(p->joined_at, kT0 + 1000);

  auto l = leave(id, family);
  ASSERT_TRUE(l.ok()) << l.error().message;
  auto again = leave(id, family);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "not_participant");
}

// --- change_seq, ids and versions ------------------------------------------------

TEST_F(CallLogTest, ChangeSeqStrictlyIncreasesAcrossAllWrites) {
  std::string id = new_call();
  int64_t last = max_change_seq();
  EXPECT_GT(last, 0);
  auto step = [&](const char* what, bool expect_ok, auto&& op) {
    clock_.advance_ms(1000);
    auto r = op();
    EXPECT_EQ(r.ok(), expect_ok) << what << ": " << r.error().code;
    int64_t now = max_change_seq();
    EXPECT_GT(now, last) << what << " wrote no row with a higher change_seq";
    last = now;
  };
  step("patient joins", true, [&] { return join(id, kPatient); });
  step("provider joins", true, [&] { return join(id, kProvider); });
  step("invite", true, [&] { return add(id, kProvider, "fam-1"); });
  step("patient leaves", true, [&] { return leave(id, kPatient); });
  step("stranger refused", false, [&] { return join(id, kStranger); });
  step("patient rejoins", true, [&] { return join(id, kPatient); });
  step("end", true, [&] { return end(id, kProvider); });

  std::string all_seqs;
  for (const SyncTable& table : sync_tables()) {
    if (!all_seqs.empty()) all_seqs += " UNION ALL ";
    all_seqs += std::string("SELECT change_seq FROM ") + table.name;
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM (" + all_seqs + ")"),
            scalar("SELECT count(DISTINCT change_seq) FROM (" + all_seqs + ")"))
      << "two rows share a change_seq";

  // A writer opened later (a restart) continues above what is stored.
  writer_ = std::make_unique<CallWriter>(db(), clock_, max_participants_);
  std::string second = new_call();
  EXPECT_GT(scalar("SELECT change_seq FROM calls WHERE id = '" + second + "'"), last);
}

TEST_F(CallLogTest, RowsHaveUuidIdsAndVersionsCountUpdates) {
  std::string id = new_call();
  EXPECT_EQ(fetch(id).version, 1);

  ASSERT_TRUE(join(id, kPatient).ok());
  CallRecord c = fetch(id);
  EXPECT_EQ(c.version, 1) << "a join that does not start the call leaves the call row alone";
  ASSERT_NE(participant(c, "pat-1"), nullptr);
  EXPECT_EQ(participant(c, "pat-1")->version, 1);

  clock_.advance_ms(1000);
  ASSERT_TRUE(join(id, kProvider).ok());
  EXPECT_EQ(fetch(id).version, 2) << "the call started";

  clock_.advance_ms(1000);
  ASSERT_TRUE(leave(id, kPatient).ok());
  EXPECT_EQ(participant(fetch(id), "pat-1")->version, 2);
  ASSERT_TRUE(join(id, kPatient).ok());
  EXPECT_EQ(participant(fetch(id), "pat-1")->version, 3);

  clock_.advance_ms(1000);
  ASSERT_TRUE(end(id, kProvider).ok());
  c = fetch(id);
  EXPECT_EQ(c.version, 3) << "the call ended";
  EXPECT_EQ(c.updated_at, kT0 + 3000);
  EXPECT_EQ(participant(c, "pat-1")->version, 4);
  EXPECT_EQ(participant(c, "prov-1")->version, 2);
  EXPECT_EQ(scalar("SELECT version FROM calls WHERE id = '" + id + "'"), 3);
  ASSERT_TRUE(sqlite_exec(db(), "BEGIN", nullptr));
  ASSERT_TRUE(writer_->record_quality(id, kPatient, QualitySample{42, 7, 3, 900}));
  ASSERT_TRUE(sqlite_exec(db(), "COMMIT", nullptr));

  for (const SyncTable& synced : sync_tables()) {
    const char* table = synced.name;
    std::vector<std::string> ids = texts(std::string("SELECT id FROM ") + table);
    for (const std::string& row_id : ids) EXPECT_TRUE(is_uuid(row_id)) << table << ": " << row_id;
    if (std::string(table) != "call_recordings" && std::string(table) != "turn_usage") {  // no writer yet
      EXPECT_FALSE(ids.empty()) << table;
    }
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM call_events WHERE call_id = '" + id + "'"), 7)
      << "created, 3 x participant_joined, started, participant_left, ended";
}

// --- CallReader::list --------------------------------------------------------------

class CallListTest : public CallLogTest {
 protected:
  void SetUp() override {
    CallLogTest::SetUp();
    if (HasFatalFailure()) return;
    // Seven calls; two pairs share a created_at so the id breaks the tie.
    const int64_t advance[] = {0, 1000, 0, 1000, 1000, 0, 1000};
    for (int i = 0; i < 7; ++i) {
      clock_.advance_ms(advance[i]);
      auto r = create(video_call(i % 2 == 0 ? "pat-1" : "pat-2"), kProvider);
      ASSERT_TRUE(r.ok()) << r.error().message;
      calls_.push_back(r->call);
    }
  }

  std::vector<CallRecord> list(CallFilter f) {
    auto r = reader_->list(f);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : std::vector<CallRecord>{};
  }

  // Walks every page of `f` with the keyset cursor.
  std::vector<CallRecord> walk(CallFilter f, int page_size, std::vector<size_t>* page_sizes) {
    std::vector<CallRecord> out;
    f.limit = page_size;
    f.before.reset();
    for (int guard = 0; guard < 20; ++guard) {
      std::vector<CallRecord> page = list(f);
      page_sizes->push_back(page.size());
      if (page.empty()) return out;
      out.insert(out.end(), page.begin(), page.end());
      f.before = std::make_pair(page.back().created_at, page.back().id);
    }
    ADD_FAILURE() << "pagination does not terminate";
    return out;
  }

  static std::vector<std::string> ids(const std::vector<CallRecord>& calls) {
    std::vector<std::string> out;
    for (const CallRecord& c : calls) out.push_back(c.id);
    return out;
  }

  // The expected listing: `calls` newest first, ties broken by id descending.
  static std::vector<std::string> newest_first(std::vector<CallRecord> calls) {
    std::sort(calls.begin(), calls.end(), [](const CallRecord& a, const CallRecord& b) {
      return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
    });
    return ids(calls);
  }

  std::vector<CallRecord> calls_where(bool (*keep)(const CallRecord&)) {
    std::vector<CallRecord> out;
    for (const CallRecord& c : calls_)
      if (keep(c)) out.push_back(c);
    return out;
  }

  std::vector<CallRecord> calls_;
};

TEST_F(CallListTest, ListsNewestFirst) {
  std::vector<CallRecord> all = list(CallFilter{});
  EXPECT_EQ(ids(all), newest_first(calls_));
  ASSERT_EQ(all.size(), 7u);
  EXPECT_TRUE(all.front().participants.empty());
}

TEST_F(CallListTest, KeysetPaginationVisitsEveryCallOnce) {
  std::vector<size_t> sizes;
  std::vector<CallRecord> walked = walk(CallFilter{}, 3, &sizes);
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 1, 0}));
  std::vector<std::string> got = ids(walked);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), got.size()) << "a call was listed twice";
  EXPECT_EQ(got, newest_first(calls_));
}

TEST_F(CallListTest, PageSizeOneStillCrossesTies) {
  std::vector<size_t> sizes;
  EXPECT_EQ(ids(walk(CallFilter{}, 1, &sizes)), newest_first(calls_));
  EXPECT_EQ(sizes.size(), 8u);
}

TEST_F(CallListTest, VisibleToPatientShowsOwnAndInvitedCalls) {
  // pat-1 is invited into one of pat-2's calls.
  const CallRecord& invited_into = calls_[3];
  ASSERT_EQ(invited_into.patient_id, "pat-2");
  ASSERT_TRUE(add(invited_into.id, kProvider, "pat-1", "family").ok());

  std::vector<CallRecord> expected = calls_where([](const CallRecord& c) { return c.patient_id == "pat-1"; });
  expected.push_back(invited_into);

  CallFilter f;
  f.visible_to_patient = "pat-1";
  EXPECT_EQ(ids(list(f)), newest_first(expected));

  std::vector<size_t> sizes;
  EXPECT_EQ(ids(walk(f, 2, &sizes)), newest_first(expected));
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1, 0}));

  f.visible_to_patient = "pat-2";
  EXPECT_EQ(ids(list(f)), newest_first(calls_where([](const CallRecord& c) { return c.patient_id == "pat-2"; })));

  f.visible_to_patient = "pat-404";
  EXPECT_TRUE(list(f).empty());
}

// Removed by an operator from another patient's call: that call is no
// longer theirs to list (GET /webrtc/calls/{id} refuses it too), while the
// call's own patient still lists it after being removed.
TEST_F(CallListTest, ACallSomeoneWasRemovedFromIsNoLongerListedForThem) {
  const CallRecord& invited_into = calls_[3];
  ASSERT_EQ(invited_into.patient_id, "pat-2");
  ASSERT_TRUE(add(invited_into.id, kProvider, "pat-1", "family").ok());
  ASSERT_TRUE(join(invited_into.id, kPatient).ok());  // an operator removes who is in the call
  ASSERT_TRUE(join(invited_into.id, Actor{"pat-2", Role::patient, ""}).ok());
  AuditRecord why = make_audit_record(clock_, "olga", "operator", "admin.participant.remove", "ok", "10.0.0.20",
                                      "wrong room", invited_into.id);
  ASSERT_TRUE(in_tx([&](CallWriter& w) { return w.remove(invited_into.id, "pat-1", why); }).ok());
  CallFilter f;
  f.visible_to_patient = "pat-1";
  EXPECT_EQ(ids(list(f)), newest_first(calls_where([](const CallRecord& c) { return c.patient_id == "pat-1"; })));

  ASSERT_TRUE(in_tx([&](CallWriter& w) { return w.remove(invited_into.id, "pat-2", why); }).ok());
  f.visible_to_patient = "pat-2";
  EXPECT_EQ(ids(list(f)), newest_first(calls_where([](const CallRecord& c) { return c.patient_id == "pat-2"; })));
}

TEST_F(CallListTest, VisibleToProviderShowsOwnAndInvitedCalls) {
  CallFilter f;
  f.visible_to_provider = "prov-9";
  EXPECT_TRUE(list(f).empty());
  ASSERT_TRUE(add(calls_[5].id, kProvider, "prov-9", "provider").ok());
  EXPECT_EQ(ids(list(f)), std::vector<std::string>{calls_[5].id});
  f.visible_to_provider = "prov-1";
  EXPECT_EQ(list(f).size(), 7u);
}

TEST_F(CallListTest, FiltersByPatientStatusAndCreationTime) {
  CallFilter by_patient;
  by_patient.patient_id = "pat-2";
  EXPECT_EQ(ids(list(by_patient)),
            newest_first(calls_where([](const CallRecord& c) { return c.patient_id == "pat-2"; })));

  ASSERT_TRUE(end(calls_[0].id, kProvider).ok());
  CallFilter missed;
  missed.status = CallStatus::missed;
  EXPECT_EQ(ids(list(missed)), std::vector<std::string>{calls_[0].id});
  CallFilter scheduled;
  scheduled.status = CallStatus::scheduled;
  EXPECT_EQ(list(scheduled).size(), 6u);

  // [created_at of call 2, created_at of call 5): inclusive, then exclusive.
  CallFilter window;
  window.created_from = calls_[2].created_at;
  window.created_to = calls_[5].created_at;
  std::vector<CallRecord> expected;
  for (const CallRecord& c : calls_)
    if (c.created_at >= *window.created_from && c.created_at < *window.created_to) expected.push_back(c);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(ids(list(window)), newest_first(expected));
}

}  // namespace
}  // namespace vytal

namespace vytal {
namespace {

// --- limits: open calls per patient, audit rows for refusals -----------------

TEST_F(CallLogTest, OpenCallsPerPatientAreCappedForPatientsAndProviders) {
  writer_->set_limits(CallWriterLimits{3, 0}, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = create(video_call(), i % 2 ? kProvider : kPatient);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ids.push_back(r->call.id);
  }
  for (const Actor& a : {kPatient, kProvider}) {
    auto r = create(video_call(), a);
    ASSERT_FALSE(r.ok()) << role_name(a.role);
    EXPECT_EQ(r.error().code, "too_many_open_calls");
  }
  EXPECT_TRUE(create(video_call("pat-2"), kProvider).ok()) << "another patient has its own count";
  EXPECT_TRUE(create(video_call(), kService).ok()) << "the platform's back end is not capped";
  // A call that is over no longer counts.
  auto cancelled = in_tx([&](CallWriter& w) { return w.cancel(ids[0], kPatient, ""); });
  ASSERT_TRUE(cancelled.ok());
  auto fresh = in_tx([&](CallWriter& w) { return w.create(video_call(), kPatient); });
  EXPECT_FALSE(fresh.ok()) << "the service's call keeps it at 3 open: still at the cap";
  writer_->set_limits(CallWriterLimits{5, 0}, nullptr);
  EXPECT_TRUE(create(video_call(), kPatient).ok());
}

TEST_F(CallLogTest, RefusalsAreAuditedAtMostNPerSubjectPerMinute) {
  std::atomic<uint64_t> suppressed{0};
  writer_->set_limits(CallWriterLimits{0, 3}, &suppressed);
  auto denied_rows = [&] { return scalar("SELECT count(*) FROM audit_log WHERE outcome = 'denied'"); };
  for (int i = 0; i < 10; ++i) {
    auto r = create(video_call("pat-1", "prov-1"), kOtherPatient);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "forbidden") << "the refusal itself is unchanged";
  }
  EXPECT_EQ(denied_rows(), 3);
  EXPECT_EQ(suppressed.load(), 7u);
  // Another subject has its own budget.
  ASSERT_FALSE(create(video_call("pat-1", "prov-1"), kStranger).ok());
  EXPECT_EQ(denied_rows(), 4);
  // A minute later the subject's budget is back.
  clock_.advance_ms(60'000);
  ASSERT_FALSE(create(video_call("pat-1", "prov-1"), kOtherPatient).ok());
  EXPECT_EQ(denied_rows(), 5);
  EXPECT_EQ(suppressed.load(), 7u);
}

// CommitQueue runs a batch again after rolling it back (a write in it failed):
// the refusals in it are counted toward the audit budget once, not twice.
TEST_F(CallLogTest, ABatchRunAgainCountsItsRefusalsOnce) {
  std::atomic<uint64_t> suppressed{0};
  writer_->set_limits(CallWriterLimits{0, 1}, &suppressed);
  auto refuse = [&] { ASSERT_FALSE(create(video_call("pat-1", "prov-1"), kOtherPatient).ok()); };
  writer_->begin_batch();
  refuse();  // audited: the budget of 1 is used
  refuse();  // left out of the audit log
  EXPECT_EQ(suppressed.load(), 1u);
  writer_->undo_batch();
  EXPECT_EQ(suppressed.load(), 0u);
  refuse();  // the same first refusal again: audited, not suppressed
  EXPECT_EQ(suppressed.load(), 0u);
  refuse();
  EXPECT_EQ(suppressed.load(), 1u);
}

}  // namespace
}  // namespace vytal
