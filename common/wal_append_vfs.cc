#include "common/wal_append_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>

#include "common/prometheus.h"

namespace vytal {
namespace {

constexpr int kFrameHeaderBytes = 24;       // the WAL format's frame header
constexpr size_t kMaxKeptBytes = 4u << 20;  // a larger transaction is written out as it goes
// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the length
// to 17 bits); a longer write would lose its top bits.
constexpr size_t kMaxWriteBytes = 124u << 10;

sqlite3_vfs* g_default = nullptr;            // set once, before the VFS is registered
Histogram* g_commit_sync_seconds = nullptr;  // likewise; never freed (threads may sync during exit)

// SQLite allocates szOsFile bytes for each open file; a WAL file is this
// header followed by the default VFS's own file.
struct WalFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* kept;        // appends not yet written
  sqlite3_int64 kept_from;  // file offset of kept's first byte
  bool commit_page_next;    // the last write was a commit frame's header
  bool commit_unsynced;     // a commit frame's page was written since the last sync
};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f)->real; }

int write_out(WalFile* f) {
  int rc = SQLITE_OK;
  for (size_t done = 0; rc == SQLITE_OK && done < f->kept->size(); done += kMaxWriteBytes) {
    size_t n = std::min(kMaxWriteBytes, f->kept->size() - done);
    rc = f->real->pMethods->xWrite(f->real, f->kept->data() + done, static_cast<int>(n),
                                   f->kept_from + static_cast<sqlite3_int64>(done));
  }
  f->kept->clear();
  if (f->kept->capacity() > kMaxKeptBytes / 4) f->kept->shrink_to_fit();  // after a rare large transaction
  return rc;
}

int write_out(sqlite3_file* f) { return write_out(reinterpret_cast<WalFile*>(f)); }

int wal_close(sqlite3_file* file) noexcept {
  auto* f = reinterpret_cast<WalFile*>(file);
  int rc = write_out(f);
  int closed = f->real->pMethods->xClose(f->real);
  delete f->kept;
  f->kept = nullptr;
  return rc != SQLITE_OK ? rc : closed;
}

int wal_read(sqlite3_file* f, void* buf, int amount, sqlite3_int64 offset) noexcept {
  if (int rc = write_out(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xRead(real(f), buf, amount, offset);
}

int wal_write(sqlite3_file* file, const void* buf, int amount, sqlite3_int64 offset) noexcept {
  auto* f = reinterpret_cast<WalFile*>(file);
  std::string& kept = *f->kept;
  if (!kept.empty() && offset != f->kept_from + static_cast<sqlite3_int64>(kept.size()))
    if (int rc = write_out(f); rc != SQLITE_OK) return rc;
  if (kept.empty()) f->kept_from = offset;
  kept.append(static_cast<const char*>(buf), static_cast<size_t>(amount));
  bool commit_page = f->commit_page_next;
  f->commit_unsynced |= commit_page;
  // Bytes 4..7 of a frame header: the database size after a commit, 0 otherwise.
  f->commit_page_next =
      amount == kFrameHeaderBytes && std::memcmp(static_cast<const char*>(buf) + 4, "\0\0\0\0", 4) != 0;
  if (commit_page || kept.size() >= kMaxKeptBytes) return write_out(f);
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) noexcept {
  if (int rc = write_out(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xTruncate(real(f), size);
}

// Only a sync after a commit is timed: a fresh log's header and a
// checkpoint's sync of a log already synced wait for no request.
int wal_sync(sqlite3_file* file, int flags) noexcept {
  auto* f = reinterpret_cast<WalFile*>(file);
  if (int rc = write_out(f); rc != SQLITE_OK) return rc;
  if (!f->commit_unsynced) return f->real->pMethods->xSync(f->real, flags);  // a header's, a checkpoint's: not timed
  f->commit_unsynced = false;
  auto start = std::chrono::steady_clock::now();
  int rc = f->real->pMethods->xSync(f->real, flags);
  g_commit_sync_seconds->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return rc;
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) noexcept {
  if (int rc = write_out(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFileSize(real(f), size);
}

int wal_lock(sqlite3_file* f, int level) noexcept { return real(f)->pMethods->xLock(real(f), level); }
int wal_unlock(sqlite3_file* f, int level) noexcept { return real(f)->pMethods->xUnlock(real(f), level); }
int wal_check_reserved(sqlite3_file* f, int* out) noexcept {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) noexcept {
  if (int rc = write_out(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}

int wal_sector_size(sqlite3_file* f) noexcept { return real(f)->pMethods->xSectorSize(real(f)); }
int wal_device(sqlite3_file* f) noexcept { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }

int wal_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) noexcept {
  return real(f)->pMethods->xShmMap(real(f), region, size, extend, out);
}
int wal_shm_lock(sqlite3_file* f, int offset, int n, int flags) noexcept {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void wal_shm_barrier(sqlite3_file* f) noexcept { real(f)->pMethods->xShmBarrier(real(f)); }
int wal_shm_unmap(sqlite3_file* f, int remove) noexcept { return real(f)->pMethods->xShmUnmap(real(f), remove); }

int wal_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) noexcept {
  if (int rc = write_out(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFetch(real(f), offset, amount, out);
}
int wal_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) noexcept {
  return real(f)->pMethods->xUnfetch(real(f), offset, page);
}

const sqlite3_io_methods kWalMethods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved,
    wal_file_control,
    wal_sector_size,
    wal_device,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

int open_file(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) noexcept {
  if (!(flags & SQLITE_OPEN_WAL)) return g_default->xOpen(g_default, name, file, flags, out_flags);
  auto* f = reinterpret_cast<WalFile*>(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  int rc = g_default->xOpen(g_default, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    return rc;
  }
  // Fewer than version 3 would leave a method above unset in the default VFS.
  if (f->real->pMethods->iVersion < 3) {
    f->real->pMethods->xClose(f->real);
    return SQLITE_CANTOPEN;
  }
  f->kept = new std::string;
  f->kept_from = 0;
  f->commit_page_next = false;
  f->commit_unsynced = false;
  f->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

}  // namespace

const char* wal_append_vfs() {
  static sqlite3_vfs vfs;
  static std::once_flag once;
  std::call_once(once, [] {
    g_default = sqlite3_vfs_find(nullptr);
    g_commit_sync_seconds = new Histogram;
    // A copy of the default: every method but xOpen is the default's own,
    // with the default's pAppData as it expects.
    vfs = *g_default;
    vfs.zName = "vytal-wal-append";
    vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + g_default->szOsFile;
    vfs.xOpen = open_file;
    vfs.pNext = nullptr;
    sqlite3_vfs_register(&vfs, 0);
  });
  return vfs.zName;
}

const Histogram& commit_sync_seconds() {
  wal_append_vfs();
  return *g_commit_sync_seconds;
}

}  // namespace vytal
