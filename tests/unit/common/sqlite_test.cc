// Opening the appliance's databases (common/sqlite.h) from several processes at
// once, as vytal-admin starting and `vytalctl admin add` do on a new admin.db.
#include "common/sqlite.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace vytal {
namespace {

constexpr Migration kMigrations[] = {
    {1, "accounts", "CREATE TABLE accounts (name TEXT PRIMARY KEY)"},
    {2, "sessions", "CREATE TABLE sessions (id TEXT PRIMARY KEY, name TEXT NOT NULL)"},
};

// Opens `path` and brings its schema up to date in a child process, which
// waits until the parent closes start[1]; exit status 0 when both succeeded,
// and the error on report[1] otherwise.
pid_t open_in_child(const std::string& path, const int start[2], const int report[2]) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  close(start[1]);
  close(report[0]);
  char go;
  if (read(start[0], &go, 1) < 0) _exit(2);
  auto db = sqlite_open(path, SqliteOpenOptions{});
  std::string error = db ? "" : db.error().message + "\n";
  if (db) {
    auto applied = apply_migrations(db.value().get(), kMigrations, 0);
    if (!applied) error = applied.error().message + "\n";
  }
  if (!error.empty() && write(report[1], error.data(), error.size()) < 0) _exit(2);
  _exit(error.empty() ? 0 : 1);
}

TEST(SqliteOpen, ProcessesOpeningANewDatabaseTogetherAllSucceed) {
  auto dir = std::filesystem::temp_directory_path() / ("vytal-sqlite-open-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  int failures = 0;
  std::string errors;
  for (int round = 0; round < 40; ++round) {
    std::string path = (dir / ("new-" + std::to_string(round) + ".db")).string();
    int start[2], report[2];
    ASSERT_EQ(pipe(start), 0);
    ASSERT_EQ(pipe(report), 0);
    pid_t children[3];
    for (pid_t& child : children) child = open_in_child(path, start, report);
    close(start[0]);
    close(report[1]);
    close(start[1]);  // every child reads end-of-file at once: all open together
    for (pid_t child : children) {
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
    }
    char buf[512];
    for (ssize_t n; (n = read(report[0], buf, sizeof buf)) > 0;) errors.append(buf, static_cast<size_t>(n));
    close(report[0]);
    auto db = sqlite_open(path, SqliteOpenOptions{.read_only = true});
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ(schema_version(db.value().get()), 2);
    Statement mode(db.value().get(), "PRAGMA journal_mode");
    ASSERT_EQ(mode.step(), SQLITE_ROW);
    EXPECT_EQ(mode.text(0), "wal");
  }
  std::filesystem::remove_all(dir);
  EXPECT_EQ(failures, 0) << errors;
}

}  // namespace
}  // namespace vytal
