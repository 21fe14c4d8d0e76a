// A SQLite VFS over the default one that hands a transaction's write-ahead
// log to the kernel in one write instead of two per page.
//
// SQLite appends each WAL frame as two pwrite() calls, its 24-byte header and
// its page: a commit of 50 pages is 100 system calls, each taking the file's
// lock and walking the page cache again. This VFS keeps the appends of one
// transaction in memory while they follow each other in the file and writes
// them out in one call:
// - after the page of a commit frame (the WAL format marks it in the frame
//   header), so a commit is in the file before SQLite marks it visible to
//   readers, whatever the connection's synchronous setting;
// - before anything else touches the file (read, sync, truncate, size, close,
//   file control), and before a write that does not follow the kept bytes;
// - once the kept bytes pass 4 MiB (a transaction larger than that; the
//   memory is given back after such a one).
// A failed write-out fails the call that caused it, as a failed pwrite() of
// SQLite's own would. Every other file (the database, its shared memory) goes
// straight through to the default VFS.
//
// It also times the sync that makes each commit durable (the first sync of
// the log after a commit frame's page), for /metrics: the disk's share of a
// commit. A fresh log's header and a checkpoint's sync are not timed.
#pragma once

namespace vytal {

class Histogram;

// Registers the VFS (once, not as the default) and returns its name for
// sqlite3_open_v2. Thread-safe.
const char* wal_append_vfs();

// How long each commit's sync of its write-ahead log took, in seconds; all
// of this process's databases opened through the VFS together.
const Histogram& commit_sync_seconds();

}  // namespace vytal
