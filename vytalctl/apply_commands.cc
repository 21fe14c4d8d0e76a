#include "vytalctl/apply_commands.h"

#include <dirent.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>

#include "admin_ui/appliance_settings.h"
#include "admin_ui/apply_spool.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/json.h"
#include "common/time_format.h"

extern char** environ;

namespace vytal {
namespace {

constexpr int64_t kMaxOverlapS = 30 * 86400;
constexpr int64_t kRequestLifetimeMs = 15 * 60 * 1000;  // an older request is refused, not applied

struct Outcome {
  Outcome() = default;
  Outcome(std::string s, std::string m) : state(std::move(s)), message(std::move(m)) {}
  std::string state = "done", message;
  std::vector<SettingChange> changes;
  std::vector<std::string> restarted;
};

// systemctl restart -- UNIT...; its exit status (-1 when it could not run).
int restart_units(const std::string& systemctl, const std::vector<std::string>& units) {
  std::vector<char*> argv{const_cast<char*>(systemctl.c_str()), const_cast<char*>("restart"), const_cast<char*>("--")};
  for (const std::string& u : units) argv.push_back(const_cast<char*>(u.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, systemctl.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Outcome rotate(const Config& config, const json_t* req, int64_t now_s) {
  Outcome out;
  const std::string& path = config.str("VYTAL_TURN_KEYRING_FILE");
  json_t* o = json_object_get(req, "overlapSeconds");
  if (path.empty()) return {"refused", "VYTAL_TURN_KEYRING_FILE is not set"};
  if (!json_is_integer(o) || json_integer_value(o) < 0 || json_integer_value(o) > kMaxOverlapS)
    return {"refused", "overlapSeconds: from 0 to " + std::to_string(kMaxOverlapS)};
  KeyRing ring;
  std::string error;
  if (!rotate_key_ring_file(path, json_integer_value(o), now_s, &ring, &error)) return {"failed", error};
  out.message =
      "rotated the TURN secret; the previous one is accepted until " + format_timestamp(ring.previous_until_s * 1000);
  return out;
}

Outcome apply_settings(const Config& config, const CommandOptions& opts, const json_t* req) {
  Outcome out;
  const std::string& file = config.str("VYTAL_SETTINGS_FILE");
  std::map<std::string, std::optional<std::string>> changes;
  const char* key;
  json_t* value;
  json_object_foreach(json_object_get(req, "changes"), key, value) {
    if (json_is_null(value))
      changes[key] = std::nullopt;
    else if (json_is_string(value))
      changes[key] = std::string(json_string_value(value));
    else
      return {"refused", std::string(key) + ": the value must be text"};
  }
  if (changes.empty()) return {"refused", "no changes in the request"};
  // The settings file must still be what the admin previewed.
  std::string why;
  auto text = read_file(file, &why);
  if (!text && errno != ENOENT) return {"refused", why};
  auto current = parse_settings_file(text.value_or(""), file);
  if (!current) return {"refused", current.error().message};
  SettingsValues expected;
  json_object_foreach(json_object_get(req, "expect"), key, value) {
    if (json_is_string(value)) expected[key] = json_string_value(value);
  }
  if (expected != current.value())
    return {"refused", file + " changed since the page read it; review the settings again"};
  auto p = propose_settings(opts.config_paths, file, changes, [](const char* k) { return std::getenv(k); });
  if (!p) return {"refused", p.error().message};
  if (p->changes.empty()) return {"refused", "these values are already in force"};
  std::string actor(json_string_field(req, "actor").value_or("?"));
  std::string error;
  std::string note = "Last changed through the admin page by " + actor.substr(0, 64);
  for (char& c : note)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  if (!write_file_atomically(file, format_settings_file(p->file_after, note), 0640, &error)) return {"failed", error};
  out.changes = p->changes;
  out.message = "written to " + file;
  if (!json_is_true(json_object_get(req, "restart"))) {
    out.message += "; not restarted: the change takes effect when ";
    for (size_t i = 0; i < p->restarts.size(); ++i) out.message += (i ? ", " : "") + p->restarts[i];
    out.message += " restart";
    return out;
  }
  int status = restart_units(opts.systemctl.empty() ? "/bin/systemctl" : opts.systemctl, p->restarts);
  if (status != 0) {
    out.state = "failed";
    out.message += "; restarting the services failed (systemctl exit status " + std::to_string(status) +
                   "): see journalctl -u vytal-apply";
    return out;
  }
  out.restarted = p->restarts;
  out.message += "; restarted";
  for (const std::string& u : p->restarts) out.message += " " + u;
  return out;
}

bool write_result(const std::string& spool, const std::string& id, const std::string& kind, const std::string& actor,
                  const Outcome& o, int64_t now_ms, std::string* error) {
  JsonPtr r(json_object());
  json_put(r.get(), "id", json_str(id));
  json_put(r.get(), "kind", json_str(kind));
  json_put(r.get(), "actor", json_str(actor));  // who asked: the actor of the result's audit row
  json_put(r.get(), "state", json_str(o.state));
  json_put(r.get(), "message", json_str(o.message));
  json_t* changes = json_array();
  for (const SettingChange& c : o.changes) {
    json_t* e = json_object();
    json_put(e, "key", json_str(c.key));
    json_put(e, "before", json_str(c.before));
    json_put(e, "after", json_str(c.after));
    json_array_append_new(changes, e);
  }
  json_put(r.get(), "changes", changes);
  json_t* restarted = json_array();
  for (const std::string& u : o.restarted) json_array_append_new(restarted, json_str(u));
  json_put(r.get(), "restarted", restarted);
  json_put(r.get(), "finishedAt", json_integer(now_ms));
  std::string tmp = spool + "/tmp/" + id + ".result", path = spool + "/results/" + id + ".json";
  // Readable by vytal-admin: given to the owner of the spool (this runs as
  // root) on the open file, before it has a name in a directory that user
  // writes (a chown by name there would follow a link it put in its place).
  struct stat sb {};
  if (::stat(spool.c_str(), &sb) != 0) {
    *error = spool + ": " + std::strerror(errno);
    return false;
  }
  FileOwner owner{sb.st_uid, sb.st_gid};
  if (!write_file_atomically(tmp, json_dump(r.get()) + "\n", 0640, error, &owner)) return false;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": cannot be written";
    return false;
  }
  return true;
}

}  // namespace

bool rotate_key_ring_file(const std::string& path, int64_t overlap_s, int64_t now_s, KeyRing* ring,
                          std::string* error) {
  *ring = KeyRing{};
  if (auto old = read_key_ring(path, error)) {
    ring->previous = old->current;
    ring->previous_until_s = now_s + overlap_s;
    ring->previous_since_s = old->current_since_s;
  }
  ring->current_since_s = now_s;
  ring->current = base64url_encode(random_bytes(32));
  return write_key_ring(path, *ring, error);
}

int apply_requests(const Config& config, const CommandOptions& opts, int64_t now_s) {
  const std::string& spool = config.str("VYTAL_APPLY_SPOOL_DIR");
  std::string dir = spool + "/requests";
  auto ids = apply_ids_in(dir);
  if (!ids) {
    std::printf("no requests (%s does not exist)\n", dir.c_str());
    return 0;
  }
  int status = 0;
  for (const std::string& id : *ids) {
    std::string path = dir + "/" + id + ".json";
    std::string error;
    // As root, from a directory the service user writes: no link followed.
    auto text = read_file(path, &error, FileKind::regular_not_link);
    JsonPtr req = text ? json_parse(*text, &error) : nullptr;
    std::string kind = req ? std::string(json_string_field(req.get(), "kind").value_or("")) : "";
    Outcome o;
    json_t* created = req ? json_object_get(req.get(), "createdAt") : nullptr;
    if (!req || json_string_field(req.get(), "id").value_or("") != id)
      o = Outcome{"refused",
                  "not a request: " + (error.empty() ? std::string("its id does not match its name") : error)};
    else if (!json_is_integer(created) || now_s * 1000 - json_integer_value(created) > kRequestLifetimeMs)
      o = Outcome{"refused", "the request is older than 15 minutes; ask again from the page"};
    else if (kind == "rotate")
      o = rotate(config, req.get(), now_s);
    else if (kind == "settings")
      o = apply_settings(config, opts, req.get());
    else
      o = Outcome{"refused", "unknown kind '" + kind.substr(0, 32) + "'"};
    std::string actor = req ? std::string(json_string_field(req.get(), "actor").value_or("")) : "";
    if (!write_result(spool, id, kind, actor, o, now_s * 1000, &error)) {
      std::fprintf(stderr, "vytalctl: %s\n", error.c_str());
      status = 1;
    }
    ::unlink(path.c_str());
    std::printf("%s %s: %s: %s\n", id.c_str(), kind.c_str(), o.state.c_str(), o.message.c_str());
    if (o.state != "done") status = 1;
  }
  // Results are kept a week (the page reads one within seconds).
  if (std::unique_ptr<DIR, int (*)(DIR*)> r(opendir((spool + "/results").c_str()), closedir); r)
    while (dirent* e = readdir(r.get())) {
      std::string path = spool + "/results/" + e->d_name;
      struct stat sb {};
      if (e->d_name[0] != '.' && ::stat(path.c_str(), &sb) == 0 && sb.st_mtim.tv_sec < now_s - 7 * 86400)
        ::unlink(path.c_str());
    }
  return status;
}

}  // namespace vytal
