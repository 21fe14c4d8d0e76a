// The TURN plugin (libvytal_turn.so) as vytal-turnserver loads it: dlopen,
// the entry point, init, then credential checks from several relay threads.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <latch>
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

}  // namespace
}  // namespace vytal
