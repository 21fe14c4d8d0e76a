#include "admin_ui/accounts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "admin_ui/admin_db.h"
#include "admin_ui/sessions.h"
#include "admin_ui/totp.h"

namespace vytal {
namespace {

// admin.db in a temporary directory, a manual clock, the stores over it.
class AdminDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vytal-admin-db-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto db = open_admin_db(dir_ + "/admin.db", clock.now_ms());
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(db.value());
    accounts = std::make_unique<AccountStore>(db_.get(), clock);
    sessions = std::make_unique<SessionStore>(db_.get(), clock, SessionOptions{900, 28800});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ManualClock clock{1'111'111'111'000};  // an RFC 6238 test time
  std::string dir_;
  SqlitePtr db_;
  std::unique_ptr<AccountStore> accounts;
  std::unique_ptr<SessionStore> sessions;
};

TEST_F(AdminDbTest, FileIsOwnerOnly) {
  EXPECT_EQ(std::filesystem::status(dir_ + "/admin.db").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(AdminDbTest, UnknownAccountAndWrongPasswordGetTheSameAnswer) {
  ASSERT_TRUE(accounts->add("Alice", AdminRole::admin, "correct horse battery"));
  LoginFailure why{};
  auto wrong = accounts->check_login("alice", "wrong horse battery", "", &why);
  EXPECT_EQ(why, LoginFailure::wrong_password);
  auto unknown = accounts->check_login("mallory", "wrong horse battery", "", &why);
  EXPECT_EQ(why, LoginFailure::unknown_account);
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().code, unknown.error().code);
  EXPECT_EQ(wrong.error().message, unknown.error().message);
  auto ok = accounts->check_login("ALICE", "correct horse battery", "", &why);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->name, "alice");
  EXPECT_EQ(ok->role, AdminRole::admin);
}

TEST_F(AdminDbTest, RefusesBadNamesWeakPasswordsAndDuplicates) {
  EXPECT_EQ(accounts->add("al ice", AdminRole::viewer, "correct horse battery").error().code, "invalid_name");
  EXPECT_EQ(accounts->add("alice", AdminRole::viewer, "short").error().code, "weak_password");
  EXPECT_EQ(accounts->add("alice", AdminRole::viewer, "i am alice, really").error().code, "weak_password");
  ASSERT_TRUE(accounts->add("alice", AdminRole::viewer, "correct horse battery"));
  EXPECT_EQ(accounts->add("alice", AdminRole::admin, "correct horse battery").error().code, "account_exists");
}

TEST_F(AdminDbTest, DisabledAccountCannotLogInAndLosesItsSessions) {
  ASSERT_TRUE(accounts->add("victor", AdminRole::viewer, "viewer passphrase 1"));
  auto s = sessions->create("victor", "127.0.0.1");
  ASSERT_TRUE(s);
  ASSERT_TRUE(sessions->find(s->id).value());
  ASSERT_TRUE(accounts->disable("victor"));
  EXPECT_FALSE(sessions->find(s->id).value());
  LoginFailure why{};
  auto r = accounts->check_login("victor", "viewer passphrase 1", "", &why);
  EXPECT_EQ(why, LoginFailure::disabled);
  EXPECT_EQ(r.error().code, "bad_credentials");
}

TEST_F(AdminDbTest, PasswordChangeEndsTheAccountsSessionsOnly) {
  ASSERT_TRUE(accounts->add("alice", AdminRole::admin, "correct horse battery"));
  ASSERT_TRUE(accounts->add("bob", AdminRole::viewer, "another passphrase"));
  auto a = sessions->create("alice", "127.0.0.1");
  auto b = sessions->create("bob", "127.0.0.1");
  ASSERT_TRUE(accounts->set_password("alice", "a brand new passphrase"));
  EXPECT_FALSE(sessions->find(a->id).value());
  EXPECT_TRUE(sessions->find(b->id).value());
  EXPECT_TRUE(accounts->password_matches("alice", "a brand new passphrase"));
  EXPECT_FALSE(accounts->password_matches("alice", "correct horse battery"));
}

TEST_F(AdminDbTest, TotpCodeOnceRecoveryCodeOnce) {
  ASSERT_TRUE(accounts->add("olga", AdminRole::operator_, "operator passphrase"));
  auto e = accounts->enable_totp("olga", "VytalWatch");
  ASSERT_TRUE(e) << e.error().message;
  ASSERT_EQ(e->recovery_codes.size(), 10u);
  std::string key = *base32_decode(e->secret_base32);
  LoginFailure why{};
  EXPECT_EQ(accounts->check_login("olga", "operator passphrase", "", &why).error().code, "totp_required");
  EXPECT_EQ(why, LoginFailure::totp_required);
  EXPECT_EQ(accounts->check_login("olga", "operator passphrase", "000000", &why).error().code, "bad_totp");
  std::string code = totp(key, clock.now_s());
  EXPECT_TRUE(accounts->check_login("olga", "operator passphrase", code, &why));
  EXPECT_EQ(accounts->check_login("olga", "operator passphrase", code, &why).error().code, "bad_totp")
      << "the same code twice is a replay";
  clock.advance_ms(30000);
  EXPECT_TRUE(accounts->check_login("olga", "operator passphrase", totp(key, clock.now_s()), &why));
  // A wrong password with a right code is still a wrong password.
  EXPECT_EQ(accounts->check_login("olga", "wrong passphrase!", e->recovery_codes[0], &why).error().code,
            "bad_credentials");
  std::string lower = e->recovery_codes[1];
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  EXPECT_TRUE(accounts->check_login("olga", "operator passphrase", lower, &why)) << "typed in lower case";
  EXPECT_FALSE(accounts->check_login("olga", "operator passphrase", e->recovery_codes[1], &why)) << "used up";
  EXPECT_EQ(accounts->find("olga").value()->recovery_codes_left, 9);
  ASSERT_TRUE(accounts->disable_totp("olga"));
  EXPECT_TRUE(accounts->check_login("olga", "operator passphrase", "", &why));
  EXPECT_EQ(accounts->disable_totp("olga").error().code, "totp_not_enabled");
}

TEST_F(AdminDbTest, SessionIdleAndAbsoluteTimeouts) {
  ASSERT_TRUE(accounts->add("alice", AdminRole::admin, "correct horse battery"));
  auto s = sessions->create("alice", "127.0.0.1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->id.size(), 43u) << "256 bits, base64url";
  // Used every 14 minutes: alive for 8 hours, not a minute more.
  for (int i = 0; i < 34; ++i) {
    clock.advance_ms(14 * 60 * 1000);
    ASSERT_TRUE(sessions->find(s->id).value()) << "after " << (i + 1) * 14 << " min";
  }
  clock.advance_ms(14 * 60 * 1000);  // 490 min > 480
  EXPECT_FALSE(sessions->find(s->id).value());

  auto idle = sessions->create("alice", "127.0.0.1");
  clock.advance_ms(14 * 60 * 1000);
  // Background checks are not use: they do not move the idle clock.
  EXPECT_TRUE(sessions->find(idle->id, /*touch=*/false).value());
  clock.advance_ms(60 * 1000);
  EXPECT_FALSE(sessions->find(idle->id).value()) << "15 minutes without use";
  EXPECT_FALSE(sessions->find(idle->id).value()) << "and gone for good";
}

TEST_F(AdminDbTest, SessionsAreStoredHashedWithTheirCsrfToken) {
  ASSERT_TRUE(accounts->add("alice", AdminRole::admin, "correct horse battery"));
  auto s = sessions->create("alice", "127.0.0.1");
  Statement q(db_.get(), "SELECT id_hash FROM sessions");
  ASSERT_EQ(q.step(), SQLITE_ROW);
  EXPECT_EQ(q.text(0), session_id_hash(s->id));
  EXPECT_NE(q.text(0).find(s->id), 0u);
  auto found = sessions->find(s->id).value();
  ASSERT_TRUE(found);
  EXPECT_TRUE(SessionStore::csrf_ok(*found, s->csrf));
  EXPECT_FALSE(SessionStore::csrf_ok(*found, ""));
  EXPECT_FALSE(SessionStore::csrf_ok(*found, s->csrf.substr(1)));
  auto other = sessions->create("alice", "127.0.0.1");
  EXPECT_FALSE(SessionStore::csrf_ok(*found, other->csrf)) << "a token belongs to its session";
  EXPECT_FALSE(sessions->find("not-a-session").value());
}

}  // namespace
}  // namespace vytal
