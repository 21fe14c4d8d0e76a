// The admin page (admin_ui/web/: HTML, CSS, ES modules), compiled into
// vytal-admin so nothing is loaded from outside the appliance.
#pragma once

#include <cstddef>
#include <string_view>

namespace vytal {

struct AdminAsset {
  const char* name;  // file name under admin_ui/web/
  const char* content_type;
  const char* data;
  size_t size;
};

// nullptr when there is no such asset.
const AdminAsset* find_admin_asset(std::string_view name);

}  // namespace vytal
