// The TURN plugin (libvytal_turn.so) as vytal-turnserver loads it: dlopen,
// the entry point, init, then credential checks from several relay threads.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <latch>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "turn_plugin/vytal_turn_plugin.h"

namespace vytal {
namespace {

class TurnPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handle_ = dlopen(VYTAL_TURN_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    auto entry = reinterpret_cast<vytal_turn_plugin_entry_fn>(dlsym(handle_, "vytal_turn_plugin_entry"));
    ASSERT_NE(entry, nullptr);
    plugin_ = entry(VYTAL_TURN_PLUGIN_ABI_VERSION);
    ASSERT_NE(plugin_, nullptr);
    dir_ = std::filesystem::temp_directory_path() / ("vytal-plugin-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    FILE* f = std::fopen((dir_ / "keyring").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("# vytal TURN key ring\ncurrent the-current-secret\n", f);
    std::fclose(f);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    if (handle_) dlclose(handle_);
  }
  std::string config() const { return "keyring=" + (dir_ / "keyring").string(); }
  // A REST username that expires in a minute.
  static std::string username() { return std::to_string(std::time(nullptr) + 60) + ":patient-1"; }

  void* handle_ = nullptr;
  const vytal_turn_plugin* plugin_ = nullptr;
  std::filesystem::path dir_;
};

// A host of an earlier ABI version gets a table of its version, without
// what came later (it would not know to skip it); a host of none gets none.
TEST_F(TurnPluginTest, EachHostVersionGetsItsTable) {
  auto entry = reinterpret_cast<vytal_turn_plugin_entry_fn>(dlsym(handle_, "vytal_turn_plugin_entry"));
  EXPECT_EQ(entry(0), nullptr);
  const vytal_turn_plugin* v1 = entry(1);
  ASSERT_NE(v1, nullptr);
  EXPECT_EQ(v1->abi_version, 1);
  EXPECT_TRUE(v1->rest_secrets && v1->on_usage && v1->still_allowed);
  EXPECT_TRUE(!v1->quota_key && !v1->on_refusal && !v1->pending_reports);
  const vytal_turn_plugin* v2 = entry(2);
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->abi_version, 2);
  EXPECT_TRUE(v2->quota_key && v2->on_refusal && !v2->pending_reports);
  const vytal_turn_plugin* v3 = entry(3);
  ASSERT_NE(v3, nullptr);
  EXPECT_EQ(v3->abi_version, 3);
  EXPECT_TRUE(v3->pending_reports && !v3->revocations_version);
  EXPECT_EQ(entry(4)->abi_version, 4);
  EXPECT_NE(entry(4)->revocations_version, nullptr);
  EXPECT_EQ(entry(5), entry(4));  // a later host speaks 4 too
}

// The host's sweep asks about its sessions only in the rounds after
// revocations_version() changed: it must change whenever a revocation may
// have been added, and stay the same while the file does (a sweep that
// never ran again would let a revoked user relay until its allocation ends).
TEST_F(TurnPluginTest, TheRevocationsVersionChangesWithTheFileOnly) {
  const std::filesystem::path revoked = dir_ / "revoked";
  auto write_revoked = [&](const std::string& text) {
    FILE* f = std::fopen(revoked.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  };
  auto after_a_look = [] { std::this_thread::sleep_for(std::chrono::milliseconds(250)); };  // looked at every 200 ms
  char err[256] = "";
  ASSERT_EQ(plugin_->init(config().c_str(), err, sizeof err), 0) << err;
  EXPECT_EQ(plugin_->revocations_version(), 0u) << "no revocations file: nobody can be revoked";
  plugin_->cleanup();

  write_revoked("");
  ASSERT_EQ(plugin_->init((config() + ";revoked=" + revoked.string()).c_str(), err, sizeof err), 0) << err;
  const std::string user = username();
  uint64_t v = plugin_->revocations_version();
  after_a_look();
  EXPECT_EQ(plugin_->revocations_version(), v) << "the file did not change";

  write_revoked("patient-1 " + std::to_string(std::time(nullptr) + 60) + "\n");
  after_a_look();
  uint64_t revoked_version = plugin_->revocations_version();
  EXPECT_NE(revoked_version, v) << "patient-1 revoked: the sweep must look again";
  EXPECT_EQ(plugin_->still_allowed(user.c_str(), "vytalwatch"), 0);
  after_a_look();
  EXPECT_EQ(plugin_->revocations_version(), revoked_version) << "nothing changed since";

  write_revoked("patient-1 " + std::to_string(std::time(nullptr) + 60) + "\npatient-2 " +
                std::to_string(std::time(nullptr) + 60) + "\n");
  after_a_look();
  EXPECT_NE(plugin_->revocations_version(), revoked_version) << "patient-2 added";
  plugin_->cleanup();
}

// coturn checks credentials on several threads at once, and the first checks
// come in as soon as it listens: none of them may find the key ring not yet
// read (an empty ring refuses every credential with 401).
TEST_F(TurnPluginTest, TheFirstCredentialChecksAfterStartAllFindTheSecret) {
  constexpr int kThreads = 8;
  for (int start = 0; start < 20; ++start) {
    char err[256] = "";
    ASSERT_EQ(plugin_->init(config().c_str(), err, sizeof err), 0) << err;
    std::string user = username();
    std::latch go(kThreads);
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&] {
        char secrets[VYTAL_TURN_PLUGIN_MAX_SECRETS][256];
        go.arrive_and_wait();
        int n = plugin_->rest_secrets(user.c_str(), "vytalwatch", secrets, VYTAL_TURN_PLUGIN_MAX_SECRETS);
        if (n != 1 || std::string(secrets[0]) != "the-current-secret") refused.fetch_add(1);
      });
    for (std::thread& t : threads) t.join();
    plugin_->cleanup();
    EXPECT_EQ(refused.load(), 0) << "start " << start << ": checks refused or without the secret";
  }
}

// signald's end of the usage socket, read only when the test says so.
class UsageSocket {
 public:
  explicit UsageSocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  }
  ~UsageSocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // Every datagram until none came for quiet_ms.
  std::vector<std::string> read_until_quiet(int quiet_ms) {
    timeval tv{quiet_ms / 1000, (quiet_ms % 1000) * 1000};
    EXPECT_EQ(setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0) << std::strerror(errno);
    std::vector<std::string> out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;) out.emplace_back(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// The sessions' last reports in what signald got: per session, "usage" for
// its final usage and "deleted", in the order they came.
std::map<uint64_t, std::string> last_reports(const std::vector<std::string>& datagrams) {
  std::map<uint64_t, std::string> out;
  for (const std::string& d : datagrams) {
    size_t at = d.find("\"session\":");
    if (at == std::string::npos) continue;
    uint64_t session = std::stoull(d.substr(at + 10));
    if (d.find("\"final\":true") != std::string::npos) out[session] += "usage ";
    if (d.find("\"event\":\"deleted\"") != std::string::npos) out[session] += "deleted ";
  }
  return out;
}

// Many sessions ending at once (a stop) send more last reports than the
// socket queues (net.unix.max_dgram_qlen: 10 by the kernel's default, 512
// where systemd sets it): they wait in the plugin (pending_reports), and
// each still reaches signald, once and in its order, as signald reads;
// both while running and at a stop, where vytal-turnserver (patch 0013)
// asks pending_reports() every 20 ms until none wait.
TEST_F(TurnPluginTest, EverySessionsLastReportsReachSignaldWhenManyEndAtOnce) {
  constexpr uint64_t kSessions = 1000;
  for (bool at_stop : {false, true}) {
    UsageSocket signald((dir_ / "usage.sock").string());
    char err[256] = "";
    ASSERT_EQ(plugin_->init((config() + ";usage=" + (dir_ / "usage.sock").string()).c_str(), err, sizeof err), 0)
        << err;
    std::string user = username();
    for (uint64_t s = 1; s <= kSessions; ++s) {
      vytal_turn_allocation_event created{};
      created.kind = VYTAL_TURN_ALLOCATION_CREATED;
      created.session_id = s;
      created.username = user.c_str();
      plugin_->on_allocation(&created);
      if (s % 8 == 0) signald.read_until_quiet(1);  // these are not what this test is about
    }
    signald.read_until_quiet(50);
    for (uint64_t s = 1; s <= kSessions; ++s) {  // no one reading meanwhile
      vytal_turn_usage_event usage{};
      usage.session_id = s;
      usage.username = user.c_str();
      usage.total_bytes_received = 1000 * s;
      usage.final = 1;
      plugin_->on_usage(&usage);
      vytal_turn_allocation_event deleted{};
      deleted.kind = VYTAL_TURN_ALLOCATION_DELETED;
      deleted.session_id = s;
      deleted.username = user.c_str();
      plugin_->on_allocation(&deleted);
    }
    ASSERT_GT(plugin_->pending_reports(), 0) << "the socket took them all: nothing here waited";
    std::vector<std::string> got;
    if (at_stop) {  // as vytal-turnserver stops: every 20 ms, for at most 2 s
      std::thread reader([&] { got = signald.read_until_quiet(500); });
      for (int tick = 0; tick < 100 && plugin_->pending_reports() > 0; ++tick)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      EXPECT_EQ(plugin_->pending_reports(), 0);
      reader.join();
      plugin_->cleanup();
    } else {
      got = signald.read_until_quiet(500);
      plugin_->cleanup();
    }
    auto last = last_reports(got);
    EXPECT_EQ(last.size(), kSessions) << (at_stop ? "at the stop" : "while running");
    for (const auto& [session, reports] : last)
      EXPECT_EQ(reports, "usage deleted ") << "session " << session << (at_stop ? " at the stop" : " while running");
  }
}

// A last report the socket refuses for good (longer than a datagram can be)
// is dropped and counted, and does not hold up the ones after it.
TEST_F(TurnPluginTest, ALastReportTooLongToSendDoesNotHoldUpTheNext) {
  UsageSocket signald((dir_ / "usage.sock").string());
  char err[256] = "";
  ASSERT_EQ(plugin_->init((config() + ";usage=" + (dir_ / "usage.sock").string()).c_str(), err, sizeof err), 0) << err;
  std::string user = username(), huge = user + std::string(1 << 20, 'x');
  for (uint64_t s : {1, 2}) {
    vytal_turn_allocation_event created{};
    created.kind = VYTAL_TURN_ALLOCATION_CREATED;
    created.session_id = s;
    created.username = user.c_str();
    plugin_->on_allocation(&created);
  }
  signald.read_until_quiet(50);
  vytal_turn_usage_event usage{};
  usage.session_id = 1;
  usage.username = huge.c_str();
  usage.final = 1;
  plugin_->on_usage(&usage);
  usage.session_id = 2;
  usage.username = user.c_str();
  plugin_->on_usage(&usage);
  auto got = signald.read_until_quiet(1500);  // the reporter's second try
  plugin_->cleanup();
  auto last = last_reports(got);
  EXPECT_EQ(last.count(1), 0u);
  ASSERT_EQ(last.count(2), 1u) << "the report after the one too long never came";
  EXPECT_NE(got.back().find("\"dropped\":1"), std::string::npos) << got.back();
}

}  // namespace
}  // namespace vytal
