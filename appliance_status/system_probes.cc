#include "appliance_status/system_probes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common/handles.h"

namespace vytal {
namespace {

inline void bus_unref(sd_bus* b) { sd_bus_flush_close_unref(b); }
using SdBusPtr = CHandle<sd_bus, bus_unref>;

struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
};

std::string property_string(sd_bus* bus, const char* path, const char* iface, const char* name) {
  BusError err;
  char* raw = nullptr;
  if (sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path, iface, name, &err.e, &raw) < 0) return {};
  std::string out(raw ? raw : "");
  free(raw);
  return out;
}

}  // namespace

std::optional<UnitState> systemd_unit_state(const std::string& unit) {
  if (access("/run/systemd/system", F_OK) != 0) return std::nullopt;  // sd_booted()
  sd_bus* raw = nullptr;
  if (sd_bus_open_system(&raw) < 0) return std::nullopt;
  SdBusPtr bus(raw);
  sd_bus_set_method_call_timeout(bus.get(), 500000);
  char* path_raw = nullptr;
  if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path_raw) < 0) return std::nullopt;
  std::unique_ptr<char, decltype(&free)> path(path_raw, &free);
  const char* kUnit = "org.freedesktop.systemd1.Unit";
  UnitState s;
  std::string load = property_string(bus.get(), path.get(), kUnit, "LoadState");
  if (load.empty()) return std::nullopt;  // D-Bus refused us: unknown, not "absent"
  s.loaded = load == "loaded";
  if (!s.loaded) return s;
  s.active_state = property_string(bus.get(), path.get(), kUnit, "ActiveState");
  s.sub_state = property_string(bus.get(), path.get(), kUnit, "SubState");
  s.unit_file_state = property_string(bus.get(), path.get(), kUnit, "UnitFileState");
  BusError err;
  uint64_t usec = 0;
  if (sd_bus_get_property_trivial(bus.get(), "org.freedesktop.systemd1", path.get(), kUnit, "ActiveEnterTimestamp",
                                  &err.e, 't', &usec) >= 0)
    s.active_since_ms = static_cast<int64_t>(usec / 1000);
  return s;
}

ClockSync kernel_clock_sync() {
  ClockSync c;
  timex tx{};
  int state = adjtimex(&tx);
  if (state < 0) {
    // Under ProtectClock= (vytal-admin's unit) adjtimex is refused: ask
    // systemd-timedated instead, as `timedatectl show -p NTPSynchronized` does.
    sd_bus* raw = nullptr;
    if (access("/run/systemd/system", F_OK) != 0 || sd_bus_open_system(&raw) < 0) return c;
    SdBusPtr bus(raw);
    sd_bus_set_method_call_timeout(bus.get(), 500000);
    BusError err;
    int synced = 0;
    if (sd_bus_get_property_trivial(bus.get(), "org.freedesktop.timedate1", "/org/freedesktop/timedate1",
                                    "org.freedesktop.timedate1", "NTPSynchronized", &err.e, 'b', &synced) >= 0) {
      c.known = true;
      c.synchronized = synced != 0;
    }
    return c;
  }
  c.known = true;
  c.synchronized = state != TIME_ERROR && !(tx.status & STA_UNSYNC);
  c.max_error_us = tx.maxerror;
  return c;
}

CertificateInfo read_certificate(const std::string& path) {
  CertificateInfo info;
  info.path = path;
  std::unique_ptr<FILE, decltype(&fclose)> f(std::fopen(path.c_str(), "r"), &fclose);
  if (!f) {
    info.error = std::string("cannot be read: ") + std::strerror(errno);
    return info;
  }
  X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    info.error = "is not a PEM certificate";
    return info;
  }
  char subject[256] = "";
  X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof subject);
  info.subject = subject;
  tm t{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &t) == 1) info.not_after_s = timegm(&t);
  return info;
}

bool certificate_covers(const std::string& path, const std::string& host) {
  std::unique_ptr<FILE, decltype(&fclose)> f(std::fopen(path.c_str(), "r"), &fclose);
  X509Ptr cert(f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return false;
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1)
    return X509_check_ip_asc(cert.get(), host.c_str(), 0) == 1;
  return X509_check_host(cert.get(), host.data(), host.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
}

bool certificate_matches_key(const std::string& cert_path, const std::string& key_path, std::string* error) {
  std::unique_ptr<FILE, decltype(&fclose)> cf(std::fopen(cert_path.c_str(), "r"), &fclose);
  X509Ptr cert(cf ? PEM_read_X509(cf.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    *error = cert_path + " is not a readable PEM certificate";
    return false;
  }
  std::unique_ptr<FILE, decltype(&fclose)> kf(std::fopen(key_path.c_str(), "r"), &fclose);
  if (!kf) {
    *error = key_path + " cannot be read: " + std::strerror(errno);
    return false;
  }
  EvpPkeyPtr key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
  if (!key) {
    *error = key_path + " is not a PEM private key (or it is encrypted)";
    return false;
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    *error = key_path + " is not the key of " + cert_path;
    return false;
  }
  return true;
}

Result<DiskSpace> disk_space(const std::string& dir) {
  struct statvfs v {};
  if (statvfs(dir.c_str(), &v) != 0) return Error{"statvfs", dir + ": " + std::strerror(errno)};
  return DiskSpace{static_cast<uint64_t>(v.f_bavail) * v.f_frsize, static_cast<uint64_t>(v.f_blocks) * v.f_frsize};
}

bool tcp_port_open(const std::string& host, int port, int timeout_ms) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v6;
  } else {
    return false;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool open = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    open = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t elen = sizeof err;
    open = poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0;
  }
  close(fd);
  return open;
}

}  // namespace vytal
