// The small formats of vytal-admin and vytal_status: CSV fields, cursors,
// audit records on the local channel, the Prometheus text it reads.
#include <gtest/gtest.h>

#include "admin_ui/call_queries.h"
#include "appliance_status/prometheus_text.h"
#include "call_log/audit_record.h"
#include "common/json.h"

namespace vytal {
namespace {

TEST(CsvFieldTest, QuotesAndDisarmsFormulas) {
  EXPECT_EQ(csv_field("patient-1"), "patient-1");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(csv_field("+1"), "'+1");
  EXPECT_EQ(csv_field("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv_field("line\nbreak"), "\"line\nbreak\"");
}

TEST(CursorTest, RoundTripsAndRefusesForgeries) {
  Cursor c{1795948408674, "01a226dd-ef62-7179-b6f6-c794ee65c15b"};
  auto back = decode_cursor(encode_cursor(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at, c.at);
  EXPECT_EQ(back->id, c.id);
  EXPECT_FALSE(decode_cursor("not base64!"));
  EXPECT_FALSE(decode_cursor("MTIzOmFiYw"));  // "123:abc": not a UUID
}

TEST(AuditRecordTest, JsonRoundTripAndFieldChecks) {
  ManualClock clock(1'800'000'000'000);
  AuditRecord r = make_audit_record(clock, "alice", "admin", "admin.login", "ok", "127.0.0.1", "logged in");
  auto back = audit_record_from_json(audit_record_to_json(r).get());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->occurred_at, 1'800'000'000'000);
  EXPECT_EQ(back->actor_id, "alice");
  EXPECT_FALSE(back->call_id);

  auto refused = [&](const char* key, json_t* value) {
    JsonPtr j = audit_record_to_json(r);
    json_object_set_new(j.get(), key, value);
    auto got = audit_record_from_json(j.get());
    return !got && got.error().code == "validation" && got.error().message.rfind(key, 0) == 0;
  };
  EXPECT_TRUE(refused("id", json_string("not-a-uuid")));
  EXPECT_TRUE(refused("role", json_string("root")));
  EXPECT_TRUE(refused("action", json_string("Admin Login")));
  EXPECT_TRUE(refused("outcome", json_string("maybe")));
  EXPECT_TRUE(refused("actor", json_string("line\nbreak")));
  EXPECT_TRUE(refused("callId", json_string("nope")));
  EXPECT_TRUE(refused("occurredAt", json_integer(-5)));
}

TEST(PrometheusTextTest, ReadsSamplesWithLabels) {
  MetricSet m(
      "# HELP vytal_calls Calls by status.\n# TYPE vytal_calls gauge\nvytal_calls{status=\"active\"} 3\n"
      "vytal_calls{status=\"ended\"} 12\nvytal_active_calls 3\nvytal_build_info{version=\"1.2.3\",quote=\"a\\\"b\"} 1\n"
      "broken{ 4\nvytal_sync_lag 1.5e3\n");
  EXPECT_EQ(m.value("vytal_calls", {{"status", "ended"}}), 12);
  EXPECT_EQ(m.value("vytal_active_calls"), 3);
  EXPECT_EQ(m.value("vytal_sync_lag"), 1500);
  EXPECT_FALSE(m.value("vytal_calls", {{"status", "missed"}}));
  ASSERT_EQ(m.all("vytal_build_info").size(), 1u);
  EXPECT_EQ(m.all("vytal_build_info")[0]->labels.at("quote"), "a\"b");
  EXPECT_FALSE(m.value("broken"));
}

}  // namespace
}  // namespace vytal
