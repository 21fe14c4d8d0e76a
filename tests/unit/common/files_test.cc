#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/key_ring.h"

namespace vytal {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("vytal-atomic-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& p) {
    std::stringstream ss;
    ss << std::ifstream(p).rdbuf();
    return ss.str();
  }
  static struct stat info(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st;
  }
  std::filesystem::path dir_;
};

TEST_F(FilesTest, NewFileGetsTheGivenMode) {
  std::string error;
  ASSERT_TRUE(write_file_atomically(path("a"), "hello\n", 0640, &error)) << error;
  EXPECT_EQ(read(path("a")), "hello\n");
  EXPECT_EQ(info(path("a")).st_mode & 07777, 0640u);
  for (const auto& entry : std::filesystem::directory_iterator(dir_))  // no temporary file left
    EXPECT_EQ(entry.path().filename(), "a");
}

TEST_F(FilesTest, ReplacedFileKeepsItsModeAndOwner) {
  std::ofstream(path("ring")) << "old\n";
  ASSERT_EQ(::chmod(path("ring").c_str(), 0600), 0);
  // As root (CI, the package's maintainer scripts), the owner a file had is
  // kept: the key ring of the service user must stay readable by it.
  bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::chown(path("ring").c_str(), 65534, 65534), 0);
  }

  KeyRing ring;
  ring.current = "new-secret";
  std::string error;
  ASSERT_TRUE(write_key_ring(path("ring"), ring, &error)) << error;
  EXPECT_NE(read(path("ring")).find("current new-secret"), std::string::npos);
  struct stat st = info(path("ring"));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  if (root) {
    EXPECT_EQ(st.st_uid, 65534u);
    EXPECT_EQ(st.st_gid, 65534u);
  }
}

// vytal-apply (root) writes its results into a directory the service user
// writes: the file is given to that user before it has a name there.
TEST_F(FilesTest, ANewFileCanBeGivenToAnOwnerBeforeItHasItsName) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root gives files away";
  FileOwner nobody{65534, 65534};
  std::string error;
  ASSERT_TRUE(write_file_atomically(path("result"), "{}\n", 0640, &error, &nobody)) << error;
  struct stat st = info(path("result"));
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// Root reading a request from a directory the service user writes: a link
// there (to a secret) or a FIFO (to make it wait forever) is refused.
TEST_F(FilesTest, ARegularFileReadRefusesLinksAndFifos) {
  std::ofstream(path("secret")) << "root only\n";
  std::ofstream(path("request")) << "{}\n";
  ASSERT_EQ(::symlink(path("secret").c_str(), path("link").c_str()), 0);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  std::string error;
  EXPECT_EQ(read_file(path("request"), &error, FileKind::regular_not_link), "{}\n") << error;
  EXPECT_FALSE(read_file(path("link"), &error, FileKind::regular_not_link));
  EXPECT_EQ(errno, ELOOP);
  EXPECT_NE(error.find("link"), std::string::npos) << error;
  EXPECT_FALSE(read_file(path("fifo"), &error, FileKind::regular_not_link));  // returns: no writer needed
  EXPECT_EQ(error, path("fifo") + ": not a regular file");
  EXPECT_FALSE(read_file(dir_.string(), &error, FileKind::regular_not_link));
  EXPECT_EQ(read_file(path("link"), &error), "root only\n") << "by default a link is followed";
}

TEST_F(FilesTest, FailureLeavesTheOldFileAndSaysWhere) {
  std::string error;
  EXPECT_FALSE(write_file_atomically(path("no-such-dir/x"), "x", 0640, &error));
  EXPECT_NE(error.find("no-such-dir/x"), std::string::npos) << error;
}

TEST_F(FilesTest, ReadFileGivesEveryByte) {
  std::string text(200000, 'v');  // several reads' worth
  text[100] = '\0';
  text.back() = '\n';
  std::ofstream(path("big"), std::ios::binary) << text;
  auto got = read_file(path("big"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), text.size());
  EXPECT_EQ(*got, text);
  std::ofstream(path("empty"), std::ios::binary).flush();
  auto empty = read_file(path("empty"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_F(FilesTest, ReadFileOfAMissingFileOrADirectoryIsAnErrorThatSaysWhy) {
  std::string error;
  errno = 0;
  EXPECT_FALSE(read_file(path("missing"), &error));
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(error, path("missing") + ": No such file or directory");
  errno = 0;
  EXPECT_FALSE(read_file(dir_.string(), &error));  // not an empty file
  EXPECT_EQ(errno, EISDIR);
  EXPECT_EQ(error, dir_.string() + ": Is a directory");
}

TEST_F(FilesTest, MakeDirCreatesOnceAndSaysWhyItCannot) {
  std::string error;
  ASSERT_TRUE(make_dir(path("spool"), 0750, &error)) << error;
  EXPECT_TRUE(S_ISDIR(info(path("spool")).st_mode));
  EXPECT_TRUE(make_dir(path("spool"), 0750, &error));  // already there
  EXPECT_FALSE(make_dir(path("no-parent/spool"), 0750, &error));
  EXPECT_EQ(error, path("no-parent/spool") + ": No such file or directory");
}

}  // namespace
}  // namespace vytal
