// What the overview learns from the machine itself: a systemd unit's state
// (over D-Bus with sd-bus; nothing when systemd is not running), whether the
// kernel clock is synchronized (adjtimex, or systemd-timedated's
// NTPSynchronized where adjtimex is refused), a certificate's expiry (OpenSSL),
// free space (statvfs), whether a TCP port answers on loopback. Each is
// bounded in time (sd-bus: 500 ms per call, TCP: 300 ms) and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace vytal {

struct UnitState {
  bool loaded = false;       // the unit exists on this machine
  std::string active_state;  // active, inactive, failed, activating, ...
  std::string sub_state;
  int64_t active_since_ms = 0;  // when it last entered "active" (0: never)
  std::string unit_file_state;  // enabled, disabled, ...
};

// nullopt when systemd is not the init system or D-Bus cannot be reached.
std::optional<UnitState> systemd_unit_state(const std::string& unit);

struct ClockSync {
  bool known = false;         // adjtimex (or, where it is refused, systemd-timedated) answered
  bool synchronized = false;  // the kernel's STA_UNSYNC is clear (set by timesyncd, chrony, ntpd)
  int64_t max_error_us = 0;   // the kernel's estimate of the clock's maximum error
};
ClockSync kernel_clock_sync();

struct CertificateInfo {
  std::string path;
  std::string subject;
  int64_t not_after_s = 0;  // Unix seconds
  std::string error;        // set when the file is missing or not a PEM certificate
};
CertificateInfo read_certificate(const std::string& path);

// Whether the certificate in `path` is valid for `host`, a DNS name (its
// subject alternative names, wildcards as browsers match them) or an IP
// address (OpenSSL's X509_check_host / X509_check_ip_asc).
bool certificate_covers(const std::string& path, const std::string& host);
// Whether the private key in `key_path` belongs to the certificate in
// `cert_path`; *error says why not.
bool certificate_matches_key(const std::string& cert_path, const std::string& key_path, std::string* error);

struct DiskSpace {
  uint64_t free_bytes = 0;  // available to an unprivileged process
  uint64_t total_bytes = 0;
};
Result<DiskSpace> disk_space(const std::string& dir);

// Whether something accepts a TCP connection at host:port within the timeout.
bool tcp_port_open(const std::string& host, int port, int timeout_ms);

}  // namespace vytal
