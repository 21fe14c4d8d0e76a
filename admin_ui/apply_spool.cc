#include "admin_ui/apply_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/crypto.h"
#include "common/files.h"

namespace vytal {

bool is_apply_id(const std::string& id) {
  return id.size() == 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<std::vector<std::string>> apply_ids_in(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) return std::nullopt;
  std::vector<std::string> ids;
  while (dirent* e = readdir(d.get())) {
    std::string name = e->d_name;
    if (name.size() == 37 && name.ends_with(".json") && is_apply_id(name.substr(0, 32)))
      ids.push_back(name.substr(0, 32));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string new_apply_id() {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : random_bytes(16)) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

Result<bool> submit_apply_request(const std::string& spool, const std::string& id, const json_t* request) {
  if (!is_apply_id(id)) return Error{"apply_spool", "bad request id"};
  std::string error;
  for (const char* sub : {"", "/requests", "/results", "/tmp"})
    if (!make_dir(spool + sub, 0750, &error)) return Error{"apply_spool", error};
  std::string tmp = spool + "/tmp/" + id + ".json", final_path = spool + "/requests/" + id + ".json";
  if (!write_file_atomically(tmp, json_dump(request) + "\n", 0640, &error)) return Error{"apply_spool", error};
  // Into requests/ in one rename: vytal-apply.path never sees half a file.
  if (::rename(tmp.c_str(), final_path.c_str()) != 0)
    return Error{"apply_spool", final_path + ": " + std::strerror(errno)};
  return true;
}

Result<JsonPtr> read_apply_result(const std::string& spool, const std::string& id, bool* audited) {
  if (!is_apply_id(id)) return Error{"apply_spool", "bad request id"};
  // Only a missing file means "no result yet"; one that cannot be read is an
  // error, not a request that seems to wait forever.
  std::string path = spool + "/results/" + id + ".audited.json", error;
  auto text = read_file(path, &error);
  *audited = text.has_value();
  if (!text && errno == ENOENT) {
    path = spool + "/results/" + id + ".json";
    text = read_file(path, &error);
  }
  if (!text) {
    if (errno == ENOENT) return JsonPtr(nullptr);
    return Error{"apply_spool", error};
  }
  error.clear();
  JsonPtr j = json_parse(*text, &error);
  if (!j || !json_is_object(j.get())) return Error{"apply_spool", path + ": not a result (" + error + ")"};
  return j;
}

}  // namespace vytal

namespace vytal {

bool mark_apply_result_audited(const std::string& spool, const std::string& id) {
  if (!is_apply_id(id)) return false;
  std::string dir = spool + "/results/" + id;
  return ::rename((dir + ".json").c_str(), (dir + ".audited.json").c_str()) == 0;
}

}  // namespace vytal
