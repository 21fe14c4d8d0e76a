// JSON helpers on jansson. json_t values are owned through JsonPtr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/handles.h"

namespace vytal {

// Parses one JSON document; on failure returns null and sets *error to a
// message naming the line and column.
JsonPtr json_parse(std::string_view text, std::string* error);
std::string json_dump(const json_t* value);

// Whether a Content-Type value names application/json: the media type
// compared exactly and case-insensitively (RFC 9110 8.3.1), parameters such
// as charset allowed; "application/jsonx" or "application/json-seq" are not.
bool is_json_media_type(std::string_view content_type);

// Field readers: std::nullopt when absent or of another type.
std::optional<std::string_view> json_string_field(const json_t* obj, const char* key);
std::optional<int64_t> json_integer_field(const json_t* obj, const char* key);

// Adds a field, taking ownership of `value` (which may be null: then JSON null).
void json_put(json_t* obj, const char* key, json_t* value);
inline json_t* json_str(std::string_view s) { return json_stringn(s.data(), s.size()); }

}  // namespace vytal
