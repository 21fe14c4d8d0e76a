// What this binary is: the project's version (CMake's project version) and
// the git commit it was built from ("unknown" outside a checkout; "-dirty"
// appended when tracked files differed from the commit). Generated at build
// time by common/build_info.cmake.
#pragma once

#include <string>

namespace vytal {

const char* build_version();
const char* build_commit();

// "<program> <version> (commit <commit>)", what --version prints.
inline std::string version_line(const char* program) {
  return std::string(program) + " " + build_version() + " (commit " + build_commit() + ")";
}

}  // namespace vytal
