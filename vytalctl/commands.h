// vytalctl's commands: each reads what it needs from the configuration and
// its options, prints its result, and returns the exit status (0 done, 1 the
// work failed, 2 a usage or configuration mistake). A command's ConfigError
// (a bad or missing key) is reported by main as one line, exit status 2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace vytal {

struct CommandOptions {
  std::string sub, role, user, output;
  long ttl = -1;
  long overlap = -1;
  std::vector<std::string> args;  // the words after the command ("admin add NAME": add, NAME)
  bool password_stdin = false;
  bool json = false;
};

// Returned by a command whose options are incomplete: main prints the usage.
inline constexpr int kUsageError = -1;

struct Command {
  const char* name;
  int (*run)(const Config& config, const CommandOptions& options, int64_t now_s);
};

const std::vector<Command>& commands();

}  // namespace vytal
