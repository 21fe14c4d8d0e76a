// syncd's change reader on a corrupted call log. A valid call log is made at
// start-up (the migrations, then calls, participants, events, quality
// samples, TURN usage and audit rows written by CallWriter); each input
// overwrites bytes in a copy of its pages, and the copy is then opened the
// way vytal-syncd opens it (sqlite_open, apply_migrations) and read by
// ChangeReader (read, backlog, synced_mark).
//
// Invariants: an error is a value (a failed open or migration, an Error from
// read, backlog or synced_mark), never a crash, an abort or a
// sanitizer finding; and what read()
// returns keeps its contract: at most `limit` rows, in change_seq order,
// each with one value per column of its table.
//
// Input: a list of patches, each [page (1 byte)][offset in the page (2)]
// [length (1)][bytes], page and offset taken modulo the file's.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "call_log/call_writer.h"
#include "call_log/schema.h"
#include "common/clock.h"
#include "common/sqlite.h"
#include "syncd/change_reader.h"

namespace vytal {
namespace {

constexpr size_t kPage = 4096;

struct Files {
  std::string dir, copy;
  std::string pristine;  // the valid call log's bytes
};
Files* files = nullptr;

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "change_reader_fuzz: %s\n", why.c_str());
  std::abort();
}

void make_call_log(const std::string& path) {
  ManualClock clock{1'800'000'000'000};
  auto db = sqlite_open(path, SqliteOpenOptions{.synchronous_full = false});
  if (!db || !apply_migrations(db.value().get(), call_log_migrations(), clock.now_ms()))
    fail("cannot make the call log");
  CallWriter w(db.value().get(), clock, 6);
  Actor service{"platform", Role::service, "127.0.0.1"};
  for (int i = 0; i < 24; ++i) {
    std::string patient = "patient-" + std::to_string(i), provider = "dr-" + std::to_string(i % 5);
    auto call =
        w.create({patient, provider, i % 3 ? "video" : "audio", "appt-" + std::to_string(i), std::nullopt}, service);
    if (!call) fail("create: " + call.error().message);
    std::string id = call->call.id;
    Actor p{patient, Role::patient, "10.0.0.1"}, d{provider, Role::provider, "10.0.0.2"};
    clock.advance_ms(1000);
    if (i % 4 == 3) {
      w.cancel(id, service, "no_show");
      continue;
    }
    w.join(id, d);
    w.join(id, p);
    clock.advance_ms(30000);
    w.record_quality(id, p, {120, 8, 5, 900});
    w.record_turn({"turn-" + std::to_string(i), "created", "1800000600:" + patient + "@" + id, patient, id,
                   "192.0.2.1:50000", "udp", 0, 0, 0, 0, false});
    w.record_turn({"turn-" + std::to_string(i), "usage", "1800000600:" + patient + "@" + id, patient, id,
                   "192.0.2.1:50000", "udp", 1 << 20, 1 << 19, 900, 800, i % 2 == 0});
    w.disconnect(id, p, clock.now_ms());
    clock.advance_ms(5000);
    if (i % 2) w.join(id, p);
    w.leave(id, p, "left", clock.now_ms());
    w.audit(p, "read_call", "forbidden", id);
    if (i % 3) w.end(id, d, "hung_up");
  }
  w.record_readiness();
  // As if syncd had sent half of it: synced_mark() has a row to read.
  std::string mark = "INSERT INTO sync_state(id, high_water, updated_at) VALUES (1, " +
                     std::to_string(last_change_seq(db.value().get()) / 2) + ", 0)";
  if (!sqlite_exec(db.value().get(), mark.c_str(), nullptr)) fail("cannot record a mark");
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void set_up() {
  // In memory when there is a tmpfs: the copy is written for every input.
  std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string tmpl_s = dir + "/vytal-change-reader-fuzz-XXXXXX";
  char* tmpl = tmpl_s.data();
  if (!::mkdtemp(tmpl)) std::abort();
  files = new Files{tmpl, std::string(tmpl) + "/calls.db", {}};
  std::atexit([] { std::filesystem::remove_all(files->dir); });
  std::string pristine = std::string(tmpl) + "/pristine.db";
  make_call_log(pristine);  // closed: its WAL is checkpointed into the file and removed
  files->pristine = read_all(pristine);
  if (files->pristine.size() < 2 * kPage || files->pristine.size() % kPage) fail("unexpected call log size");
}

void check_read(ChangeReader& reader, int64_t after, int limit) {
  auto rows = reader.read(after, limit);
  if (!rows) return;  // an error value: fine
  if (rows->size() > static_cast<size_t>(limit)) fail("read returned more rows than its limit");
  for (size_t i = 0; i < rows->size(); ++i) {
    const ChangeRow& r = rows.value()[i];
    if (!r.table || r.values.size() != r.table->columns.size()) fail("a row without one value per column");
    if (i > 0 && rows.value()[i - 1].change_seq > r.change_seq) fail("rows out of change_seq order");
  }
}

}  // namespace
}  // namespace vytal

using namespace vytal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!files) set_up();
  std::string bytes = files->pristine;
  size_t pages = bytes.size() / kPage;
  for (size_t at = 0; at + 4 <= size;) {
    size_t page = data[at] % pages;
    size_t offset = ((size_t{data[at + 1]} << 8) | data[at + 2]) % kPage;
    size_t len = std::min<size_t>(data[at + 3], size - at - 4);
    at += 4;
    for (size_t i = 0; i < len && offset + i < kPage; ++i)
      bytes[page * kPage + offset + i] = static_cast<char>(data[at + i]);
    at += len;
  }
  ::unlink((files->copy + "-wal").c_str());
  ::unlink((files->copy + "-shm").c_str());
  {
    std::ofstream f(files->copy, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  // As vytal-syncd starts: open, migrate, then read.
  auto db = sqlite_open(files->copy, SqliteOpenOptions{});
  if (!db) return 0;
  if (!apply_migrations(db.value().get(), call_log_migrations(), 1'800'000'000'000)) return 0;
  ChangeReader reader(db.value().get());
  check_read(reader, 0, 50);
  auto mark = reader.synced_mark();        // an error value when it cannot tell
  int64_t high = mark ? mark.value() : 0;  // half the changes in the valid log; anything in a damaged one
  check_read(reader, high / 2, 7);
  check_read(reader, high, 1);
  reader.backlog(0);
  reader.backlog(high / 3);
  return 0;
}
