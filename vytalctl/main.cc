// vytalctl: the admin's command line: development tokens and TURN
// credentials, vytal-turnserver's generated configuration, TURN secret
// rotation, the call log's migrations (run by the package on upgrade), and
// read-only views of the call log and of the sync, the admin page's accounts,
// the appliance's status and its backup. main parses the command
// line; each command is a function of vytalctl/commands.cc's table.
//
// Conventions: --help (or COMMAND --help) prints to standard output and exits
// 0; --version too; a mistake prints one line naming it and the short usage
// on standard error and exits 2.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/build_info.h"
#include "common/config.h"
#include "vytalctl/commands.h"

namespace {

using vytal::Command;
using vytal::CommandOptions;

const char kShortUsage[] =
    "usage: vytalctl [--config FILE]... COMMAND [options]\n"
    "       vytalctl --help | --version | COMMAND --help\n";

std::string command_usage(const Command& c) {
  std::string line = std::string("usage: vytalctl [--config FILE]... ") + c.name;
  if (*c.synopsis) line += std::string(" ") + c.synopsis;
  return line + "\n";
}

void print_help() {
  std::fputs(kShortUsage, stdout);
  std::fputs(
      "\nThe admin's command line of the VytalWatch appliance. It reads the same configuration as the\n"
      "daemons: give it the units' --config files (appliance.conf, site.conf, secrets.conf), in order.\n"
      "\ncommands:\n",
      stdout);
  for (const Command& c : vytal::commands()) {
    std::printf("  %s%s%s\n", c.name, *c.synopsis ? " " : "", c.synopsis);
    std::string help = c.help;
    for (size_t start = 0; start < help.size();) {  // indented, line by line
      size_t end = help.find('\n', start);
      if (end == std::string::npos) end = help.size();
      std::printf("      %.*s\n", static_cast<int>(end - start), help.c_str() + start);
      start = end + 1;
    }
  }
  std::fputs(
      "\nExit status: 0 done, 1 the work failed or something needs attention, 2 a usage or\n"
      "configuration mistake. Every key is in docs/CONFIG.md; see vytalctl(1).\n",
      stdout);
}

// A mistake: one line naming it, then the usage (the command's when known).
int mistake(const std::string& what, const Command* c) {
  std::fprintf(stderr, "vytalctl: %s\n", what.c_str());
  if (c)
    std::fprintf(stderr, "%sTry 'vytalctl %s --help'.\n", command_usage(*c).c_str(), c->name);
  else
    std::fprintf(stderr, "%sTry 'vytalctl --help'.\n", kShortUsage);
  return 2;
}

struct OptionSpec {
  const char* name;
  bool takes_value;
};
constexpr OptionSpec kOptions[] = {{"--sub", true},       {"--role", true},
                                   {"--user", true},      {"--ttl", true},
                                   {"--output", true},    {"--overlap", true},
                                   {"--limit", true},     {"--active", false},
                                   {"--config", true},    {"--password-stdin", false},
                                   {"--json", false},     {"--turn-config", true},
                                   {"--turn-user", true}, {"--reason", true},
                                   {"--systemctl", true}};

bool parse_number(const char* text, long min, long max, long* out) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (!*text || *end || v < min || v > max) return false;
  *out = v;
  return true;
}

// The command named by the first one or two words, longest name first.
const Command* find_command(const std::vector<std::string>& words, size_t* used) {
  for (size_t n = std::min<size_t>(2, words.size()); n >= 1; --n) {
    std::string name = words[0];
    for (size_t i = 1; i < n; ++i) name += " " + words[i];
    for (const Command& c : vytal::commands())
      if (name == c.name) {
        *used = n;
        return &c;
      }
  }
  return nullptr;
}

// Whether `option` is in the command's space-separated list (nullptr: any).
bool takes_option(const Command& c, std::string_view option) {
  if (!c.options) return true;
  std::string_view list = c.options;
  for (size_t start = 0; start < list.size();) {
    size_t end = list.find(' ', start);
    if (end == std::string_view::npos) end = list.size();
    if (list.substr(start, end - start) == option) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vytal;
  std::vector<std::string> config_paths, words;
  std::vector<std::string> given;  // options given, in order (checked against the command's)
  CommandOptions o;
  bool help = false, version = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help = true;
      continue;
    }
    if (a == "--version") {
      version = true;
      continue;
    }
    if (a.size() < 2 || a[0] != '-') {
      words.push_back(a);
      continue;
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : kOptions)
      if (a == s.name) spec = &s;
    if (!spec) return mistake("unknown option '" + a + "'", nullptr);
    if (spec->takes_value && i + 1 >= argc) return mistake("option " + a + " needs a value", nullptr);
    const char* value = spec->takes_value ? argv[++i] : nullptr;
    if (a == "--config") {
      config_paths.push_back(value);
      continue;
    }
    given.push_back(a);
    bool ok = true;
    if (a == "--sub") o.sub = value;
    if (a == "--role") o.role = value;
    if (a == "--user") o.user = value;
    if (a == "--output") o.output = value;
    if (a == "--reason") o.reason = value;
    if (a == "--turn-config") o.turn_config = value;
    if (a == "--turn-user") o.turn_user = value;
    if (a == "--systemctl") o.systemctl = value;
    if (a == "--ttl") ok = parse_number(value, 1, 30L * 86400, &o.ttl);
    if (a == "--overlap") ok = parse_number(value, 0, 30L * 86400, &o.overlap);
    if (a == "--limit") ok = parse_number(value, 1, 10000, &o.limit);
    if (a == "--active") o.active = true;
    if (!ok) return mistake("bad value for " + a + ": '" + value + "'", nullptr);
    if (a == "--password-stdin") o.password_stdin = true;
    if (a == "--json") o.json = true;
  }
  if (version) {
    std::printf("%s\n", version_line("vytalctl").c_str());
    return 0;
  }
  if (words.empty()) {
    if (help) {
      print_help();
      return 0;
    }
    return mistake("no command given", nullptr);
  }
  size_t used = 0;
  const Command* c = find_command(words, &used);
  if (!c) return mistake("unknown command '" + words[0] + "'", nullptr);
  if (help) {
    std::fputs(command_usage(*c).c_str(), stdout);
    std::printf("%s\n", c->help);
    return 0;
  }
  for (const std::string& option : given)
    if (!takes_option(*c, option)) return mistake(std::string(c->name) + " does not take " + option, c);
  o.config_paths = config_paths;
  o.args.assign(words.begin() + static_cast<long>(used), words.end());
  if (c->args >= 0 && static_cast<int>(o.args.size()) != c->args)
    return mistake(o.args.size() < static_cast<size_t>(c->args) ? "missing argument"
                                                                : "unexpected argument '" + o.args.back() + "'",
                   c);
  // A configuration error (a bad or missing key) is one line, exit 2.
  try {
    Config config = Config::load(config_paths, [](const char* k) { return std::getenv(k); });
    int status = c->run(config, o, std::time(nullptr));
    return status == kUsageError ? mistake("missing option", c) : status;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "vytalctl: configuration error: %s\n", e.what());
    return 2;
  }
}
