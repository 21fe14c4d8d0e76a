#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vytal {

std::optional<std::string> read_file(const std::string& path, std::string* error, FileKind kind) {
  const bool regular = kind == FileKind::regular_not_link;
  struct Fd {
    int fd;
    ~Fd() {
      int saved = errno;
      if (fd >= 0) ::close(fd);
      errno = saved;
    }
  } f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | (regular ? O_NOFOLLOW | O_NONBLOCK : 0))};
  auto failed = [&]() -> std::optional<std::string> {
    if (error) {
      int saved = errno;
      *error = path + ": " + std::strerror(saved);
      errno = saved;
    }
    return std::nullopt;
  };
  if (f.fd < 0) return failed();
  if (regular) {
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return failed();
    if (!S_ISREG(st.st_mode)) {
      errno = EINVAL;
      if (error) *error = path + ": not a regular file";
      return std::nullopt;
    }
  }
  std::string text;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n == 0) return text;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed();
    text.append(buf, static_cast<size_t>(n));
  }
}

bool write_file_atomically(const std::string& path, std::string_view text, mode_t mode, std::string* error,
                           const FileOwner* owner) {
  auto fail = [&](const std::string& what) {
    if (error) *error = what + ": " + std::strerror(errno);
    return false;
  };
  struct stat old {};
  bool replacing = ::stat(path.c_str(), &old) == 0;
  // A fresh name beside the file (O_EXCL): nothing another user put in the
  // directory (a link, a FIFO) is opened in its place.
  std::string tmp = path + ".XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return fail(path);
  bool ok = true;
  for (size_t done = 0; ok && done < text.size();) {  // a short write goes on; an error stops with its errno
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (n == 0) errno = EIO;
    if (ok) done += static_cast<size_t>(n);
  }
  // The mode first, while the file is still the caller's: once given away,
  // changing it would take CAP_FOWNER, which vytal-apply's unit does not
  // grant (only CAP_CHOWN and CAP_DAC_OVERRIDE).
  ok = ok && ::fchmod(fd, replacing ? (old.st_mode & 07777) : mode) == 0;
  // Only root can give a file away; anyone else writes it as their own.
  if (ok && owner && ::geteuid() == 0)
    ok = ::fchown(fd, owner->uid, owner->gid) == 0;
  else if (ok && replacing && ::geteuid() == 0 && (old.st_uid != 0 || old.st_gid != ::getegid()))
    ok = ::fchown(fd, old.st_uid, old.st_gid) == 0;
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
  // The rename itself survives a power cut once the directory is on disk.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

bool make_dir(const std::string& dir, mode_t mode, std::string* error) {
  if (::mkdir(dir.c_str(), mode) == 0 || errno == EEXIST) return true;
  if (error) *error = dir + ": " + std::strerror(errno);
  return false;
}

}  // namespace vytal
