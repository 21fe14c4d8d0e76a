// The browser client and demo page (signald/web/), compiled into signald so
// that /webrtc/demo/ works with no files to install beside the binary.
#pragma once

#include <cstddef>
#include <string_view>

namespace vytal {

struct WebAsset {
  const char* name;  // file name under signald/web/
  const char* content_type;
  const char* data;
  size_t size;
};

// nullptr when there is no such asset.
const WebAsset* find_web_asset(std::string_view name);

}  // namespace vytal
