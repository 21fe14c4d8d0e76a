// Whole small files: reading one, and replacing one so that readers see the
// old content or the new one, never a part (write a temporary file beside
// it, fsync, rename over it, fsync the directory).
// Standard library and POSIX only (the TURN plugin compiles it too).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace vytal {

// What read_file opens: any path, or (for root reading a directory another
// user writes) only a regular file that is not a symbolic link, without
// waiting on a FIFO (a link: ELOOP; anything else: EINVAL, "not a regular
// file").
enum class FileKind { any, regular_not_link };

// The whole file, read with read(2); nullopt with errno and *error
// ("PATH: reason") set when it cannot be opened or read (a directory is
// EISDIR, not an empty file).
std::optional<std::string> read_file(const std::string& path, std::string* error = nullptr,
                                     FileKind kind = FileKind::any);

struct FileOwner {
  uid_t uid;
  gid_t gid;
};

// When `path` exists, the new file keeps its mode and, when the caller is
// root, its owner and group: an admin running vytalctl as root must not leave
// the services a file they cannot read. Otherwise it is created with `mode`
// (and the caller's owner). With `owner` (root), the new file is given to it
// before it takes its name: never a chown by name, which a link another user
// put there would redirect. false with *error set ("PATH: reason") when any
// step fails; the old file is then untouched.
bool write_file_atomically(const std::string& path, std::string_view text, mode_t mode, std::string* error,
                           const FileOwner* owner = nullptr);

// Creates the directory `dir` with `mode` (its parent must exist); one that
// is already there is fine. false with *error set ("DIR: reason") otherwise.
bool make_dir(const std::string& dir, mode_t mode, std::string* error);

}  // namespace vytal
