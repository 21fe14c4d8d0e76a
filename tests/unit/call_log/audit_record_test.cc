#include "call_log/audit_record.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace vytal {
namespace {

// Valid UTF-8 as jansson sees it: json_stringn refuses anything else.
bool valid_utf8(const std::string& s) {
  JsonPtr j(json_stringn(s.data(), s.size()));
  return j != nullptr;
}

TEST(AuditDetail, ShortTextIsKeptWhole) {
  EXPECT_EQ(audit_detail("written", " (request 1)"), "written (request 1)");
  EXPECT_EQ(utf8_prefix("Süd", 10), "Süd");
}

TEST(AuditDetail, LongTextIsCutAtACharacterSoTheSuffixFitsAndSignaldTakesIt) {
  std::string text;
  for (int i = 0; i < 700; ++i) text += "ü";  // two bytes each
  std::string suffix = " (request 0123456789abcdef0123456789abcdef)";
  for (size_t extra = 0; extra < 2; ++extra) {
    std::string d = audit_detail(std::string(extra, 'x') + text, suffix);
    EXPECT_LE(d.size(), kMaxAuditDetailBytes);
    EXPECT_GE(d.size(), kMaxAuditDetailBytes - 1);
    EXPECT_TRUE(d.ends_with(suffix));
    EXPECT_TRUE(valid_utf8(d)) << extra;
  }
}

TEST(AuditDetail, MakeAuditRecordClipsWhatSignaldWouldRefuse) {
  struct FixedClock : Clock {
    int64_t now_ms() const override { return 1795972847860; }
    int64_t monotonic_ms() const override { return 0; }
  } clock;
  AuditRecord r = make_audit_record(clock, "ada", "admin", "settings.apply", "ok", "local", std::string(5000, 'a'));
  EXPECT_EQ(r.detail.size(), kMaxAuditDetailBytes);
  auto back = audit_record_from_json(audit_record_to_json(r).get());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->detail, r.detail);
}

}  // namespace
}  // namespace vytal
