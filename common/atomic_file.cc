#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vytal {

bool write_file_atomically(const std::string& path, std::string_view text, mode_t mode, std::string* error) {
  auto fail = [&](const std::string& what) {
    if (error) *error = what + ": " + std::strerror(errno);
    return false;
  };
  struct stat old {};
  bool replacing = ::stat(path.c_str(), &old) == 0;
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(tmp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (ok && replacing && (old.st_uid != ::geteuid() || old.st_gid != ::getegid()))
    ok = ::fchown(fd, old.st_uid, old.st_gid) == 0;
  ok = ok && ::fchmod(fd, replacing ? (old.st_mode & 07777) : mode) == 0;
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    return fail(path);
  }
  return true;
}

}  // namespace vytal
