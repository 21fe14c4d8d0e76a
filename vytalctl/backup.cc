#include "vytalctl/backup.h"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "admin_ui/admin_db.h"
#include "appliance_status/system_probes.h"
#include "common/build_info.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/sqlite.h"
#include "common/time_format.h"

namespace vytal {
namespace {

// The configuration keys that name a file the appliance cannot make again by
// itself; the --config files and the two databases come besides. Not nginx's
// HTTPS pair: no key names its private key, and certbot or the hospital's CA
// issues it for the new machine.
constexpr const char* kFileKeys[] = {
    "VYTAL_SETTINGS_FILE",  "VYTAL_TURN_KEYRING_FILE", "VYTAL_TURN_REVOKED_FILE",
    "VYTAL_TURN_CERT_FILE", "VYTAL_TURN_KEY_FILE",     "JWT_PUBLIC_KEY_FILE",
};

std::string errno_text(const std::string& path) { return path + ": " + std::strerror(errno); }

// Every missing directory on the way to `path` (0700 under the umask of 077).
bool make_dirs(const std::string& path, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) *error = path + ": " + ec.message();
  return !ec;
}

// DIR must be new or empty: a backup never mixes with an older one.
bool prepare_dir(const std::string& dir, std::string* error) {
  if (DIR* d = ::opendir(dir.c_str())) {
    bool empty = true;
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
    ::closedir(d);
    if (!empty) {
      *error = dir + ": exists and is not empty; give a new directory";
      return false;
    }
    if (::chmod(dir.c_str(), 0700) != 0) {
      *error = errno_text(dir);
      return false;
    }
    return true;
  }
  if (errno != ENOENT) {
    *error = errno_text(dir);
    return false;
  }
  return make_dirs(dir, error);
}

// Whether DIR's file system has room for `need` bytes of copies. On the call
// log's own file system the copies must also leave the 10 % free below which
// the disk alert fires: a backup must not be what stops calls being logged.
bool has_room(const std::string& dir, uint64_t need, const std::string& call_log, std::string* error) {
  auto space = disk_space(dir);
  if (!space) {
    *error = space.error().message;
    return false;
  }
  const uint64_t free = space->free_bytes, size = space->total_bytes;
  struct stat d = {}, log = {};
  const std::string log_dir = std::filesystem::path(call_log).parent_path().string();
  const bool shared = ::stat(dir.c_str(), &d) == 0 && ::stat(log_dir.c_str(), &log) == 0 && d.st_dev == log.st_dev;
  const uint64_t keep = shared ? size / 10 : 0;
  if (need + keep <= free) return true;
  auto mib = [](uint64_t b) {
    return b < (1 << 20) ? std::to_string((b + 1023) >> 10) + " KiB" : std::to_string((b + (1 << 19)) >> 20) + " MiB";
  };
  *error = dir + ": the copies need up to " + mib(need) + " and its file system has " + mib(free) + " free" +
           (shared ? ", which must keep " + mib(keep) + " (10 %) for the call log beside it" : "") +
           "; give a directory on another disk";
  return false;
}

// Absolute and normal, symbolic links kept: the path the configuration names.
std::string absolute_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// "0640 root:vytalwatch /etc/vytalwatch/site.conf": the restore gives these back
// (files the new install did not make would otherwise be root's, 0600).
std::string owner_line(const struct stat& st, const std::string& path) {
  const passwd* user = ::getpwuid(st.st_uid);
  const group* grp = ::getgrgid(st.st_gid);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return std::string(mode) + " " + (user ? user->pw_name : std::to_string(st.st_uid)) + ":" +
         (grp ? grp->gr_name : std::to_string(st.st_gid)) + " " + path + "\n";
}

// A consistent copy of a database in use: sqlite3_backup_step(-1) copies every
// page inside one read transaction (in WAL mode writers go on meanwhile).
// The copy is then checked as a restore would open it. Returns what it holds
// ("1234 calls"), or an error.
Result<std::string> snapshot(const std::string& source, const std::string& dest, const char* count_sql,
                             const char* noun) {
  SqliteOpenOptions read_only;
  read_only.read_only = true;
  auto src = sqlite_open(source, read_only);
  if (!src) return src.error();
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(dest.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  SqlitePtr out(raw);
  if (rc != SQLITE_OK) return Error{"backup", dest + ": " + sqlite3_errstr(rc)};
  sqlite3_backup* copy = sqlite3_backup_init(out.get(), "main", src.value().get(), "main");
  if (!copy) return Error{"backup", dest + ": " + sqlite3_errmsg(out.get())};
  rc = sqlite3_backup_step(copy, -1);
  sqlite3_backup_finish(copy);
  if (rc != SQLITE_DONE) return Error{"backup", source + ": " + sqlite3_errstr(rc)};
  auto check = Statement::prepare(out.get(), "PRAGMA quick_check");  // a damaged schema fails to prepare
  std::string verdict = !check                               ? check.error().message
                        : check.value().step() == SQLITE_ROW ? check.value().text(0)
                                                             : sqlite3_errmsg(out.get());
  if (verdict != "ok") return Error{"backup", dest + ": the copy fails SQLite's check: " + verdict};
  auto counted = Statement::prepare(out.get(), count_sql);
  if (!counted) return counted.error();
  if (counted.value().step() != SQLITE_ROW) return Error{"backup", dest + ": " + sqlite3_errmsg(out.get())};
  return std::to_string(counted.value().integer(0)) + " " + noun + ", checked";
}

}  // namespace

int backup(const Config& config, const CommandOptions& o, int64_t now_s) {
  const std::string& dir = o.args.at(0);
  if (dir.empty()) {
    std::fputs("vytalctl: backup: DIR is empty\n", stderr);
    return 2;
  }
  std::string error;
  ::umask(077);  // the directories made and the snapshots SQLite creates are the caller's alone
  if (!prepare_dir(dir, &error)) {
    std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
    return 1;
  }
  std::vector<std::string> files = o.config_paths;
  for (const char* key : kFileKeys)
    if (config.is_set(key)) files.push_back(config.str(key));
  const std::string call_log = absolute_path(read_call_log_path(config));
  const std::string admin_db = read_admin_db_path(config);
  std::vector<std::string> sources = files;  // the snapshots are no larger than a database and its log
  for (const std::string& db : {call_log, admin_db}) sources.insert(sources.end(), {db, db + "-wal"});
  uint64_t need = 0;
  for (const std::string& path : sources) {
    struct stat st = {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) need += static_cast<uint64_t>(st.st_size);
  }
  if (!has_room(dir, need, call_log, &error)) {
    std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
    return 1;
  }
  std::printf("backup of this appliance (%s) into %s at %s\n", version_line("vytalctl").c_str(), dir.c_str(),
              format_timestamp(now_s * 1000).c_str());
  // MANIFEST: each copy's SHA-256, named relative to DIR (sha256sum -c there).
  // OWNERS: each original's mode, owner and group, for the restore to give back.
  std::string manifest, owners;
  std::set<std::string> done;
  bool failed = false;
  // Each source lands at DIR/files/<its absolute path> (symbolic links not
  // followed: the restore writes the path the configuration names).
  auto land = [&](const std::string& source, std::string* dest) {
    *dest = dir + "/files" + source;
    return make_dirs(std::filesystem::path(*dest).parent_path().string(), &error);
  };
  auto record = [&](const std::string& source, const struct stat& st, const std::string& dest,
                    const std::string& what) {
    auto digest = sha256_file(dest);
    if (!digest) {
      std::fprintf(stderr, "vytalctl: %s: cannot read the copy back\n", dest.c_str());
      failed = true;
      return;
    }
    manifest += hex_encode(*digest) + "  " + dest.substr(dir.size() + 1) + "\n";
    owners += owner_line(st, source);
    std::printf("  %-44s %s\n", source.c_str(), what.c_str());
  };
  // Where a file is: false with a line printed when it is not there (`required`:
  // an error) or cannot be looked at (always an error).
  auto look = [&](const std::string& path, struct stat* st, bool required) {
    bool exists = ::stat(path.c_str(), st) == 0;
    if (exists && S_ISREG(st->st_mode)) return true;
    std::string why = exists ? path + ": not a regular file" : errno_text(path);
    if (!exists && errno == ENOENT && !required) {
      std::printf("  %-44s not there (nothing to copy)\n", path.c_str());
      return false;
    }
    std::fprintf(stderr, "vytalctl: %s\n", why.c_str());
    failed = true;
    return false;
  };

  struct Database {
    std::string path;
    const char *count_sql, *noun;
    bool required;
  };
  const Database databases[] = {
      {call_log, "SELECT count(*) FROM calls", "call(s)", true},
      {absolute_path(admin_db), "SELECT count(*) FROM accounts", "admin account(s)", false},
  };
  for (const Database& db : databases) {
    done.insert(db.path);
    struct stat st = {};
    std::string dest;
    if (!look(db.path, &st, db.required)) continue;
    if (!land(db.path, &dest)) {
      std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
      return 1;
    }
    auto copied = snapshot(db.path, dest, db.count_sql, db.noun);
    if (!copied) {
      std::fprintf(stderr, "vytalctl: %s\n", copied.error().message.c_str());
      failed = true;
      continue;
    }
    record(db.path, st, dest, copied.value());
  }

  for (const std::string& given : files) {
    std::string path = absolute_path(given);
    if (!done.insert(path).second) continue;
    struct stat st = {};
    std::string dest;
    if (!look(path, &st, false)) continue;
    auto bytes = read_file(path, &error);
    if (!bytes) {
      std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
      failed = true;
      continue;
    }
    if (!land(path, &dest) || !write_file_atomically(dest, *bytes, 0600, &error)) {
      std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
      return 1;
    }
    record(path, st, dest, std::to_string(bytes->size()) + " bytes");
  }

  if (!write_file_atomically(dir + "/MANIFEST", manifest, 0600, &error) ||
      !write_file_atomically(dir + "/OWNERS", owners, 0600, &error) ||
      !write_file_atomically(dir + "/VERSION", version_line("vytalctl") + "\n", 0600, &error)) {
    std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
    return 1;
  }
  if (failed) {
    std::fputs("backup incomplete: see the errors above\n", stderr);
    return 1;
  }
  std::printf("check it with: cd %s && sha256sum -c MANIFEST\n", dir.c_str());
  return 0;
}

}  // namespace vytal
