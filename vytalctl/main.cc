// vytalctl: the admin's command line: development tokens and TURN
// credentials, vytal-turnserver's generated configuration, TURN secret
// rotation, the call log's migrations (run by the package on upgrade), the
// admin page's accounts and the appliance's status.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "common/config.h"
#include "vytalctl/commands.h"

namespace {

const char kUsage[] =
    "usage: vytalctl [--config FILE]... COMMAND [options]\n"
    "commands:\n"
    "  dev-token --sub ID --role patient|provider|admin|service [--ttl SECONDS]\n"
    "      print an HS256 JWT signed with JWT_SECRET (development and testing)\n"
    "  turn-credential --user ID [--ttl SECONDS]\n"
    "      print a TURN REST username and password signed with the current TURN secret\n"
    "  turn-config [--output FILE]\n"
    "      print (or write to FILE, mode 0640) vytal-turnserver's configuration, generated with safe relay\n"
    "      defaults\n"
    "  migrate\n"
    "      create the call log in VYTAL_DATA_DIR or bring its schema up to date; print the schema version\n"
    "  rotate-turn-secret [--overlap SECONDS]\n"
    "      make a new current secret in VYTAL_TURN_KEYRING_FILE (creating it if needed); the old one is\n"
    "      still accepted for the overlap (VYTAL_TURN_ROTATION_OVERLAP_SECONDS), so calls in progress go on.\n"
    "      signald and the TURN plugin pick it up within a second, without a restart.\n";

int usage() {
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vytal;
  std::vector<std::string> config_paths;
  std::string command;
  CommandOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--config" && has_value)
      config_paths.push_back(argv[++i]);
    else if (a == "--sub" && has_value)
      o.sub = argv[++i];
    else if (a == "--role" && has_value)
      o.role = argv[++i];
    else if (a == "--user" && has_value)
      o.user = argv[++i];
    else if (a == "--ttl" && has_value)
      o.ttl = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--output" && has_value)
      o.output = argv[++i];
    else if (a == "--overlap" && has_value)
      o.overlap = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--password-stdin")
      o.password_stdin = true;
    else if (a == "--json")
      o.json = true;
    else if (command.empty() && a[0] != '-')
      command = a;
    else if (a[0] != '-')
      o.args.push_back(a);
    else
      return usage();
  }
  // A configuration error (a bad or missing key) is one line, exit 2.
  try {
    Config config = Config::load(config_paths, [](const char* k) { return std::getenv(k); });
    for (const Command& c : commands()) {
      if (command != c.name) continue;
      int status = c.run(config, o, std::time(nullptr));
      return status == kUsageError ? usage() : status;
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "vytalctl: configuration error: %s\n", e.what());
    return 2;
  }
  return usage();
}
