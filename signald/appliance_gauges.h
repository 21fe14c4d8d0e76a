// The appliance's state that signald watches for /metrics, read when
// Prometheus scrapes or on a slow timer, never per request: free space where
// the call log lives, the expiry of the configured TLS certificates, the age
// of the TURN key ring (time since the last rotation), the TURN server's
// allocation quota, and whether the local vytal-turnserver answers a STUN
// Binding request (RFC 8489) on its port. Event loop thread only.
#pragma once

#include <event2/event.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/handles.h"
#include "signald/metrics.h"
#include "signald/signald_config.h"

namespace vytal {

class ApplianceGauges final : public GaugeSource {
 public:
  ApplianceGauges(event_base* base, MonitoringSettings settings, std::string keyring_path, const Clock& clock);
  ~ApplianceGauges() override;
  // Reads the certificates and starts the timer (and the TURN probe's socket).
  void start();
  void render(std::string& out) const override;

  static constexpr int64_t kProbeIntervalMs = 5000;
  static constexpr int64_t kCertificateRereadMs = 60000;

 private:
  static void on_timer(evutil_socket_t, short, void* self) noexcept;
  static void on_probe_answer(evutil_socket_t fd, short, void* self) noexcept;
  void send_probe();
  void read_certificates();

  MonitoringSettings settings_;
  std::string keyring_path_;
  const Clock& clock_;
  event_base* base_;
  EventPtr timer_;
  EventPtr probe_event_;
  int probe_fd_ = -1;
  std::array<unsigned char, 12> probe_id_{};  // the transaction id of the last request
  int64_t last_answer_ms_ = -1;               // monotonic
  int64_t certificates_read_ms_ = 0;          // monotonic
  std::map<std::string, int64_t> not_after_;  // file -> Unix seconds; 0 when unreadable
};

// The notAfter of the first certificate in a PEM file (Unix seconds);
// nullopt when the file cannot be read or holds no certificate.
std::optional<int64_t> certificate_not_after(const std::string& path);

}  // namespace vytal
