// What the configuration tests share: an injected environment, parsing a
// file's text, and the message of the ConfigError a step throws.
#pragma once

#include <map>
#include <string>

#include "common/config.h"

namespace vytal::testing_support {

// An injected environment: only the variables a test sets exist.
class FakeEnv {
 public:
  FakeEnv() = default;
  FakeEnv(std::initializer_list<std::pair<const std::string, std::string>> vars) : vars_(vars) {}
  EnvLookup lookup() const {
    return [this](const char* name) -> const char* {
      auto it = vars_.find(name);
      return it == vars_.end() ? nullptr : it->second.c_str();
    };
  }

 private:
  std::map<std::string, std::string> vars_;
};

inline Config parse(const std::string& text, const FakeEnv& env = FakeEnv()) {
  return Config::from_text(text, "test.conf", env.lookup());
}

// The ConfigError's message, or "" when parsing (and `then`) did not throw.
template <typename F>
inline std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace vytal::testing_support
