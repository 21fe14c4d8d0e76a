#include "signald/appliance_gauges.h"

#include <netdb.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/crypto.h"
#include "common/log.h"
#include "common/prometheus.h"

namespace vytal {
namespace {

constexpr uint32_t kStunMagicCookie = 0x2112A442;  // RFC 8489 5
// A probe counts as up while one of the last three was answered.
constexpr int64_t kProbeFreshMs = 3 * ApplianceGauges::kProbeIntervalMs;

}  // namespace

std::optional<int64_t> certificate_not_after(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return std::nullopt;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!cert) return std::nullopt;
  std::tm tm{};
  bool ok = ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1;
  X509_free(cert);
  if (!ok) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

ApplianceGauges::ApplianceGauges(event_base* base, MonitoringSettings settings, std::string keyring_path,
                                 const Clock& clock)
    : settings_(std::move(settings)), keyring_path_(std::move(keyring_path)), clock_(clock), base_(base) {}

ApplianceGauges::~ApplianceGauges() {
  probe_event_.reset();
  if (probe_fd_ >= 0) ::close(probe_fd_);
}

void ApplianceGauges::start() {
  read_certificates();
  timer_.reset(event_new(base_, -1, EV_PERSIST, &ApplianceGauges::on_timer, this));
  timeval every{kProbeIntervalMs / 1000, 0};
  event_add(timer_.get(), &every);
  if (settings_.turn_probe_port == 0) return;
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(settings_.turn_probe_host.c_str(), std::to_string(settings_.turn_probe_port).c_str(), &hints,
                    &found) != 0 ||
      !found) {
    LOG_WARN("turn: cannot probe %s: not an address", settings_.turn_probe_host.c_str());
    return;
  }
  probe_fd_ = ::socket(found->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe_fd_ >= 0 && ::connect(probe_fd_, found->ai_addr, found->ai_addrlen) == 0) {
    probe_event_.reset(event_new(base_, probe_fd_, EV_READ | EV_PERSIST, &ApplianceGauges::on_probe_answer, this));
    event_add(probe_event_.get(), nullptr);
    send_probe();
  }
  ::freeaddrinfo(found);
}

void ApplianceGauges::on_timer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<ApplianceGauges*>(arg);
  if (self->probe_fd_ >= 0) self->send_probe();
  // certbot renews in place: read the files again now and then.
  if (self->clock_.monotonic_ms() - self->certificates_read_ms_ >= kCertificateRereadMs) self->read_certificates();
}

void ApplianceGauges::send_probe() {
  // A Binding request: type 0x0001, no attributes, the magic cookie, a fresh id.
  std::string id = random_bytes(probe_id_.size());
  std::memcpy(probe_id_.data(), id.data(), probe_id_.size());
  unsigned char request[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  std::memcpy(request + 8, probe_id_.data(), probe_id_.size());
  if (::send(probe_fd_, request, sizeof request, MSG_DONTWAIT) < 0) {
    // ECONNREFUSED: the ICMP answer to the previous probe; nobody listens.
  }
}

void ApplianceGauges::on_probe_answer(evutil_socket_t fd, short, void* arg) noexcept {
  auto* self = static_cast<ApplianceGauges*>(arg);
  unsigned char buf[1500];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return;  // drained, or ECONNREFUSED (nothing on the port)
    // Any STUN response to our last request, success (0x0101) or error
    // (0x0111): the class bit C1 (0x0100) is set (RFC 8489 5).
    uint32_t cookie = (uint32_t{buf[4]} << 24) | (uint32_t{buf[5]} << 16) | (uint32_t{buf[6]} << 8) | buf[7];
    if (n >= 20 && (buf[0] & 0xC0) == 0 && (buf[0] & 0x01) && cookie == kStunMagicCookie &&
        std::memcmp(buf + 8, self->probe_id_.data(), self->probe_id_.size()) == 0)
      self->last_answer_ms_ = self->clock_.monotonic_ms();
  }
}

void ApplianceGauges::read_certificates() {
  certificates_read_ms_ = clock_.monotonic_ms();
  for (const std::string& file : settings_.tls_cert_files) {
    auto not_after = certificate_not_after(file);
    auto known = not_after_.find(file);
    if (!not_after && (known == not_after_.end() || known->second != 0))  // said once, not every minute
      LOG_WARN("tls: cannot read the certificate in %s", file.c_str());
    not_after_[file] = not_after.value_or(0);
  }
}

void ApplianceGauges::render(std::string& out) const {
  struct statvfs fs {};
  if (!settings_.data_dir.empty() && ::statvfs(settings_.data_dir.c_str(), &fs) == 0) {
    metric_line(out,
                "# HELP vytal_call_log_filesystem_free_bytes Space available to signald on the file system of the "
                "call log (VYTAL_DATA_DIR).\n# TYPE vytal_call_log_filesystem_free_bytes gauge\n");
    metric_line(out, "vytal_call_log_filesystem_free_bytes %llu\n",
                static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize);
    metric_line(out,
                "# HELP vytal_call_log_filesystem_size_bytes Size of the file system of the call log.\n"
                "# TYPE vytal_call_log_filesystem_size_bytes gauge\n");
    metric_line(out, "vytal_call_log_filesystem_size_bytes %llu\n",
                static_cast<unsigned long long>(fs.f_blocks) * fs.f_frsize);
  }
  if (!not_after_.empty()) {
    metric_line(out,
                "# HELP vytal_tls_certificate_expiry_timestamp_seconds When each configured certificate expires "
                "(notAfter, Unix seconds; 0 when the file cannot be read).\n"
                "# TYPE vytal_tls_certificate_expiry_timestamp_seconds gauge\n");
    for (const auto& [file, not_after] : not_after_)
      metric_line(out, "vytal_tls_certificate_expiry_timestamp_seconds{file=\"%s\"} %lld\n", file.c_str(),
                  static_cast<long long>(not_after));
  }
  struct stat st {};
  if (!keyring_path_.empty() && ::stat(keyring_path_.c_str(), &st) == 0) {
    // vytalctl rotate-turn-secret replaces the file: its mtime is the last rotation.
    metric_line(out,
                "# HELP vytal_turn_keyring_age_seconds Time since the TURN key ring was last rotated (vytalctl "
                "rotate-turn-secret).\n# TYPE vytal_turn_keyring_age_seconds gauge\n");
    metric_line(out, "vytal_turn_keyring_age_seconds %lld\n", static_cast<long long>(clock_.now_s() - st.st_mtime));
  }
  if (settings_.turn_total_quota > 0) {
    metric_line(out,
                "# HELP vytal_turn_allocation_quota Allocations the TURN server holds at once "
                "(VYTAL_TURN_TOTAL_QUOTA); beyond it allocations are refused (486).\n"
                "# TYPE vytal_turn_allocation_quota gauge\n");
    metric_line(out, "vytal_turn_allocation_quota %lld\n", static_cast<long long>(settings_.turn_total_quota));
  }
  if (probe_fd_ >= 0) {
    bool up = last_answer_ms_ >= 0 && clock_.monotonic_ms() - last_answer_ms_ <= kProbeFreshMs;
    metric_line(out,
                "# HELP vytal_turn_up 1 while the local vytal-turnserver answers STUN Binding requests on its port "
                "(probed every 5 s).\n# TYPE vytal_turn_up gauge\n");
    metric_line(out, "vytal_turn_up %d\n", up ? 1 : 0);
  }
}

}  // namespace vytal
