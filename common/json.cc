#include "common/json.h"

#include <strings.h>

#include <cstdlib>

namespace vytal {

JsonPtr json_parse(std::string_view text, std::string* error) {
  json_error_t err;
  // REJECT_DUPLICATES: two "patientId" keys must not let the second win silently.
  JsonPtr doc(json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &err));
  if (!doc && error)
    *error = std::string(err.text) + " at line " + std::to_string(err.line) + ", column " + std::to_string(err.column);
  return doc;
}

std::string json_dump(const json_t* value) {
  // Straight into the string: json_dumps grows its own buffer from 16 bytes
  // by doubling, then the text is copied once more.
  std::string out;
  out.reserve(512);
  auto append = [](const char* buffer, size_t size, void* data) noexcept {
    static_cast<std::string*>(data)->append(buffer, size);
    return 0;
  };
  if (json_dump_callback(value, append, &out, JSON_COMPACT | JSON_ENCODE_ANY) != 0) std::abort();
  return out;
}

std::optional<std::string_view> json_string_field(const json_t* obj, const char* key) {
  const json_t* v = json_object_get(obj, key);
  if (!json_is_string(v)) return std::nullopt;
  return std::string_view(json_string_value(v), json_string_length(v));
}

std::optional<int64_t> json_integer_field(const json_t* obj, const char* key) {
  const json_t* v = json_object_get(obj, key);
  if (json_is_integer(v)) return json_integer_value(v);
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d >= -9.2e18 && d <= 9.2e18) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

void json_put(json_t* obj, const char* key, json_t* value) {
  json_object_set_new(obj, key, value ? value : json_null());
}

bool is_json_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return type.size() == 16 && strncasecmp(type.data(), "application/json", 16) == 0;
}

}  // namespace vytal
