// vytalctl's commands: each reads what it needs from the configuration and
// its options, prints its result, and returns the exit status (0 done, 1 the
// work failed or something needs attention, 2 a usage or configuration
// mistake). A command's ConfigError (a bad or missing key) is reported by
// main as one line, exit status 2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace vytal {

struct CommandOptions {
  std::string sub, role, user, output, reason;
  long ttl = -1;
  long overlap = -1;
  long limit = -1;
  bool active = false;
  std::string systemctl;          // apply-requests --systemctl (default /bin/systemctl)
  std::vector<std::string> args;  // what follows the command's name (call show ID; admin add NAME: add, NAME)
  bool password_stdin = false;
  bool json = false;
  std::vector<std::string> config_paths;  // the --config files, in order (doctor compares them, apply-requests
                                          // re-reads them, backup copies them)
  std::string turn_config, turn_user;     // doctor: vytal-turnserver's generated file and its user
};

// Returned by a command whose options are incomplete: main prints its usage.
inline constexpr int kUsageError = -1;

struct Command {
  const char* name;  // one or two words: "migrate", "call show"
  int (*run)(const Config& config, const CommandOptions& options, int64_t now_s);
  const char* synopsis = "";      // what follows the name in its usage line
  const char* options = nullptr;  // the options it takes ("--sub --role --ttl"); nullptr: any
  int args = 0;                   // how many words follow the name (call show ID: 1); -1: any (admin)
  const char* help = "";          // what it does, for --help
};

const std::vector<Command>& commands();

}  // namespace vytal
