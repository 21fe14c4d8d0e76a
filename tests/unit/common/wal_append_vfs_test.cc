// The VFS that writes a transaction's WAL appends in one call (common/wal_append_vfs.h),
// through sqlite_open, which opens every connection with it. Each test runs the
// writer in a child process that ends with _exit, without closing anything: what the
// parent then finds is what reached the file, not what a close wrote out.
#include "common/wal_append_vfs.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include "common/prometheus.h"
#include "common/sqlite.h"

namespace vytal {
namespace {

// 2,000 rows of 4,000 hex characters: about 8 MiB, past the 4 MiB the VFS keeps
// and past the 124 KiB it writes per call.
constexpr const char* kInsertMany =
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) "
    "INSERT INTO t SELECT x, hex(randomblob(2000)) FROM n";
// What a reader must find: the rows, their lengths, and a character from each.
constexpr const char* kDigest =
    "SELECT count(*) || '/' || coalesce(sum(length(v)), 0) || '/' || coalesce(sum(unicode(substr(v, 1 + x % 4000, "
    "1)) * x), 0) FROM t";

class WalAppendVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("vytal-walvfs-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
    auto db = open(true);
    ASSERT_TRUE(sqlite_exec(db.get(), "CREATE TABLE t (x INTEGER PRIMARY KEY, v TEXT NOT NULL)", nullptr));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SqlitePtr open(bool synchronous_full) {
    auto db = sqlite_open(path_, SqliteOpenOptions{.synchronous_full = synchronous_full});
    EXPECT_TRUE(db) << db.error().message;
    return db ? std::move(db.value()) : nullptr;
  }

  static std::string query(sqlite3* db, const char* sql) {
    Statement s(db, sql);
    return s.step() == SQLITE_ROW ? s.text(0) : "no row: " + std::string(sqlite3_errmsg(db));
  }

  // Runs `work` in a child that exits without closing its connection; returns
  // what it wrote to the pipe.
  static std::string in_child(const std::function<std::string()>& work) {
    int fds[2];
    if (pipe(fds) != 0) return "pipe failed";
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      std::string out = work();
      ssize_t n = write(fds[1], out.data(), out.size());
      _exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
    }
    close(fds[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return out;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(WalAppendVfsTest, TheVfsIsRegisteredOnceUnderItsName) {
  const char* name = wal_append_vfs();
  EXPECT_EQ(name, wal_append_vfs());
  ASSERT_NE(sqlite3_vfs_find(name), nullptr);
  EXPECT_NE(sqlite3_vfs_find(nullptr), sqlite3_vfs_find(name)) << "it must not replace the default VFS";
}

// With synchronous=NORMAL SQLite never syncs the log at a commit: only the
// commit frame tells the VFS to write out, before readers are told of it.
TEST_F(WalAppendVfsTest, ACommitIsInTheFileWhenItReturnsEvenWithoutASync) {
  std::string written = in_child([this] {
    SqlitePtr db = open(false);
    if (!sqlite_exec(db.get(), kInsertMany, nullptr)) return std::string("insert failed");
    std::string digest = query(db.get(), kDigest);
    // The last commit, small: nothing reads the file after it.
    if (!sqlite_exec(db.get(), "INSERT INTO t VALUES (5000, 'last')", nullptr)) return std::string("insert failed");
    db.release();  // not closed: whatever was kept back would be lost
    return digest;
  });
  ASSERT_TRUE(written.starts_with("2000/8000000/")) << written;
  SqlitePtr db = open(true);
  EXPECT_EQ(query(db.get(), "SELECT v FROM t WHERE x = 5000"), "last");
  ASSERT_TRUE(sqlite_exec(db.get(), "DELETE FROM t WHERE x = 5000", nullptr));
  EXPECT_EQ(query(db.get(), kDigest), written);
  EXPECT_EQ(query(db.get(), "PRAGMA integrity_check"), "ok");
}

TEST_F(WalAppendVfsTest, AnotherConnectionReadsEachCommitAtOnce) {
  SqlitePtr writer = open(false);
  SqlitePtr reader = open(true);
  for (int i = 1; i <= 50; ++i) {
    Statement insert(writer.get(), "INSERT INTO t VALUES (?, hex(randomblob(300)))");
    insert.bind(1, static_cast<int64_t>(i));
    ASSERT_EQ(insert.step(), SQLITE_DONE);
    ASSERT_EQ(query(reader.get(), "SELECT count(*) FROM t"), std::to_string(i));
    ASSERT_EQ(query(reader.get(), kDigest), query(writer.get(), kDigest));
  }
}

// Transactions that rewrite pages already in the log, a restart of the log
// after a checkpoint, and many small commits in a row: what the writer
// committed is what a fresh connection reads.
TEST_F(WalAppendVfsTest, RewritesAndRestartsOfTheLogKeepEveryCommit) {
  std::string written = in_child([this] {
    SqlitePtr db = open(true);
    for (int round = 0; round < 3; ++round) {
      if (!sqlite_exec(db.get(), "BEGIN; DELETE FROM t;", nullptr) || !sqlite_exec(db.get(), kInsertMany, nullptr) ||
          !sqlite_exec(db.get(), "UPDATE t SET v = upper(v) || 'x' WHERE x % 3 = 0; COMMIT", nullptr))
        return std::string("write failed: ") + sqlite3_errmsg(db.get());
      for (int i = 0; i < 40; ++i)
        if (!sqlite_exec(db.get(), "UPDATE t SET v = v || 'y' WHERE x = 7", nullptr))
          return std::string("update failed");
      sqlite3_wal_checkpoint_v2(db.get(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    }
    std::string digest = query(db.get(), kDigest);
    db.release();
    return digest;
  });
  ASSERT_TRUE(written.starts_with("2000/")) << written;
  SqlitePtr db = open(true);
  EXPECT_EQ(query(db.get(), kDigest), written);
  EXPECT_EQ(query(db.get(), "SELECT length(v) - 4000 FROM t WHERE x = 7"), "40");
  EXPECT_EQ(query(db.get(), "PRAGMA integrity_check"), "ok");
}

// A write that the kernel refuses (here: past the process's file size limit)
// must fail the commit, even though SQLite's own write call returned long
// before the VFS wrote the bytes out.
TEST_F(WalAppendVfsTest, AWriteTheKernelRefusesFailsTheCommit) {
  std::string outcome = in_child([this] {
    SqlitePtr db = open(true);
    signal(SIGXFSZ, SIG_IGN);
    rlimit limit{2u << 20, 2u << 20};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return std::string("setrlimit failed");
    bool ok = sqlite_exec(db.get(), kInsertMany, nullptr);
    std::string outcome = ok ? "committed" : std::string("refused: ") + sqlite3_errmsg(db.get());
    db.release();
    return outcome;
  });
  EXPECT_TRUE(outcome.starts_with("refused: ")) << outcome;
  SqlitePtr db = open(true);
  EXPECT_EQ(query(db.get(), "SELECT count(*) FROM t"), "0");
  EXPECT_EQ(query(db.get(), "PRAGMA integrity_check"), "ok");
  ASSERT_TRUE(sqlite_exec(db.get(), "INSERT INTO t VALUES (1, 'after')", nullptr)) << "the log must still take writes";
  EXPECT_EQ(query(db.get(), "SELECT v FROM t"), "after");
}

// Each commit with synchronous=FULL syncs the log once, and that sync is
// timed for /metrics: one per commit, the first one in a fresh log included
// (not its header's sync), none for a commit that does not sync, none for a
// checkpoint's sync.
TEST_F(WalAppendVfsTest, EachCommitsSyncIsTimed) {
  auto timed = [] {
    std::string text;
    commit_sync_seconds().render(text, "syncs", "");
    auto at = text.find("syncs_count ");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + 12));
  };
  auto full = open(true);
  long long before = timed();
  ASSERT_GE(before, 0);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(sqlite_exec(full.get(), ("INSERT INTO t VALUES (" + std::to_string(i) + ", 'x')").c_str(), nullptr));
  EXPECT_EQ(timed(), before + 3);
  auto normal = open(false);  // NORMAL: a WAL commit is not synced
  ASSERT_TRUE(sqlite_exec(normal.get(), "INSERT INTO t VALUES (10, 'y')", nullptr));
  EXPECT_EQ(timed(), before + 3);
  int frames = 0, copied = 0;
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(full.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied), SQLITE_OK);
  EXPECT_GT(copied, 0);  // it copied, so it synced the log first
  EXPECT_EQ(timed(), before + 3);
}

}  // namespace
}  // namespace vytal
