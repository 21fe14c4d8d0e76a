#include "admin_ui/admin_config.h"

#include <arpa/inet.h>

#include "admin_ui/admin_db.h"

namespace vytal {

AdminSettings read_admin_settings(const Config& config) {
  AdminSettings s;
  s.log_level = read_log_level(config);
  s.web.bind_address = config.str("VYTAL_ADMIN_BIND");
  s.web.port = static_cast<int>(config.integer("VYTAL_ADMIN_PORT", 0, 65535));
  s.admin_db_path = read_admin_db_path(config);
  s.call_log_path = read_call_log_path(config);
  s.sessions.idle_s = config.integer("VYTAL_ADMIN_IDLE_TIMEOUT_SECONDS", 1, 3600);
  s.sessions.absolute_s = config.integer("VYTAL_ADMIN_ABSOLUTE_TIMEOUT_SECONDS", 60, 86400);
  for (const std::string& o : config.list("VYTAL_ADMIN_ALLOWED_ORIGINS")) {
    if (o.rfind("https://", 0) != 0 && o.rfind("http://", 0) != 0)
      throw ConfigError("VYTAL_ADMIN_ALLOWED_ORIGINS: '" + o + "' is not an origin such as https://appliance.example");
    s.allowed_origins.push_back(o.back() == '/' ? o.substr(0, o.size() - 1) : o);
  }
  for (const std::string& ip : config.list("VYTAL_TRUSTED_PROXIES")) {
    unsigned char addr[16];
    char canonical[INET6_ADDRSTRLEN];
    int family = inet_pton(AF_INET, ip.c_str(), addr) == 1    ? AF_INET
                 : inet_pton(AF_INET6, ip.c_str(), addr) == 1 ? AF_INET6
                                                              : 0;
    if (!family || !inet_ntop(family, addr, canonical, sizeof canonical))
      throw ConfigError("VYTAL_TRUSTED_PROXIES: '" + ip + "' is not an IP address");
    s.trusted_proxies.emplace_back(canonical);
  }
  s.status = read_status_options(config);
  s.signald_control = s.status.signald_control;
  s.connectivity = read_connectivity_settings(config);
  s.settings_file = config.str("VYTAL_SETTINGS_FILE");
  s.apply_spool_dir = config.str("VYTAL_APPLY_SPOOL_DIR");
  if (s.apply_spool_dir.empty()) throw ConfigError("VYTAL_APPLY_SPOOL_DIR: must name a directory");
  return s;
}

}  // namespace vytal
