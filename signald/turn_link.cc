#include "signald/turn_link.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"

namespace vytal {
namespace {

// A stable row id for one TURN session: the same reports after a signald
// restart still land on the same row.
std::string row_id_for(uint64_t session, const std::string& username) {
  std::string h = hmac_sha256("vytal-turn-usage", std::to_string(session) + "/" + username).substr(0, 16);
  h[6] = static_cast<char>((h[6] & 0x0f) | 0x80);  // version 8: custom (RFC 9562)
  h[8] = static_cast<char>((h[8] & 0x3f) | 0x80);
  return format_uuid(h);
}

}  // namespace

TurnLink::TurnLink(event_base* base, TurnLinkOptions options, CallLog& call_log, Metrics& metrics, const Clock& clock)
    : options_(std::move(options)), call_log_(call_log), metrics_(metrics), clock_(clock), base_(base) {}

TurnLink::~TurnLink() {
  usage_event_.reset();
  if (usage_fd_ >= 0) {
    ::close(usage_fd_);
    ::unlink(options_.usage_socket.c_str());
  }
}

bool TurnLink::start(std::string* error) {
  if (options_.usage_socket.empty()) return true;
  sockaddr_un addr{};
  if (options_.usage_socket.size() >= sizeof addr.sun_path) {
    *error = "VYTAL_TURN_USAGE_SOCKET: path is too long";
    return false;
  }
  usage_fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, options_.usage_socket.c_str(), options_.usage_socket.size() + 1);
  ::unlink(addr.sun_path);  // a stale socket from a previous run
  if (usage_fd_ < 0 || ::bind(usage_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "VYTAL_TURN_USAGE_SOCKET: cannot bind " + options_.usage_socket + ": " + std::strerror(errno);
    return false;
  }
  ::chmod(addr.sun_path, 0660);  // the TURN server's group writes to it
  int buf = 1 << 20;
  setsockopt(usage_fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  usage_event_.reset(event_new(base_, usage_fd_, EV_READ | EV_PERSIST, &TurnLink::on_readable, this));
  event_add(usage_event_.get(), nullptr);
  return true;
}

std::string TurnLink::current_secret() {
  if (options_.keyring_path.empty()) return options_.static_secret;
  int64_t now = clock_.now_ms();
  if (now - ring_checked_ms_ >= 1000) {  // vytalctl may have rotated it
    ring_checked_ms_ = now;
    struct stat st {};
    std::string stamp = ::stat(options_.keyring_path.c_str(), &st) == 0
                            ? std::to_string(st.st_ino) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                                  std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size)
                            : "";
    if (stamp != ring_stamp_) {
      std::string error;
      if (auto ring = read_key_ring(options_.keyring_path, &error)) {
        if (!ring_.current.empty() && ring->current != ring_.current) LOG_INFO("turn: key ring rotated");
        ring_ = std::move(*ring);
        ring_stamp_ = stamp;
      } else {
        LOG_ERROR("turn: %s (keeping the previous key ring)", error.c_str());
      }
    }
  }
  return ring_.current;
}

void TurnLink::revoke(const std::string& turn_user) {
  if (options_.revoked_path.empty()) return;
  revoked_[turn_user] = clock_.now_s() + options_.credential_ttl_s + 60;
  write_revocations();
}

void TurnLink::unrevoke(const std::string& turn_user) {
  if (revoked_.erase(turn_user)) write_revocations();
}

void TurnLink::write_revocations() {
  int64_t now = clock_.now_s();
  std::string text;
  for (auto it = revoked_.begin(); it != revoked_.end();) {
    if (it->second <= now) {
      it = revoked_.erase(it);
      continue;
    }
    text += it->first + " " + std::to_string(it->second) + "\n";
    ++it;
  }
  // Atomic replace: the plugin never reads half a file. Small and rare.
  std::string tmp = options_.revoked_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) ::close(fd);
  if (!ok || ::rename(tmp.c_str(), options_.revoked_path.c_str()) != 0)
    LOG_ERROR("turn: cannot write %s: %s", options_.revoked_path.c_str(), std::strerror(errno));
}

void TurnLink::track_allocation(uint64_t session, const std::string& event, const std::string& transport) {
  auto it = allocations_.find(session);
  if (event == "deleted") {
    if (it == allocations_.end()) return;
    metrics_.turn_allocation(it->second, -1);
    allocations_.erase(it);
  } else if ((event == "created" || event == "refreshed") && it == allocations_.end()) {
    allocations_.emplace(session, transport);
    metrics_.turn_allocation(transport, +1);
  }
}

void TurnLink::on_readable(evutil_socket_t fd, short, void* arg) noexcept {
  auto* self = static_cast<TurnLink*>(arg);
  char buf[4096];
  for (int i = 0; i < 256; ++i) {  // bounded per wake-up: other sockets get their turn
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return;
    self->handle(std::string_view(buf, static_cast<size_t>(n)));
  }
}

void TurnLink::handle(std::string_view datagram) {
  JsonPtr m = json_parse(datagram, nullptr);
  auto type = json_string_field(m.get(), "type");
  auto username = json_string_field(m.get(), "username");
  auto session = json_integer_field(m.get(), "session");
  if (!type || !username || !session) {
    metrics_.count_rejected("turn_report_malformed");
    return;
  }
  if (auto dropped = json_integer_field(m.get(), "dropped")) metrics_.turn_reports_dropped_by_plugin = *dropped;
  ++metrics_.turn_reports;
  TurnReport r;
  r.username = std::string(*username);
  r.row_id = row_id_for(static_cast<uint64_t>(*session), r.username);
  // "<expiry>:<user>[@<call id>]"
  size_t colon = r.username.find(':');
  std::string user = colon == std::string::npos ? r.username : r.username.substr(colon + 1);
  size_t at = user.rfind('@');
  if (at != std::string::npos && is_uuid(std::string_view(user).substr(at + 1))) {
    r.call_id = user.substr(at + 1);
    user.resize(at);
  }
  r.user_id = user;
  if (*type == "allocation") {
    r.event = std::string(json_string_field(m.get(), "event").value_or(""));
    r.relay_address = std::string(json_string_field(m.get(), "relay").value_or(""));
    r.transport = std::string(json_string_field(m.get(), "transport").value_or(""));
    track_allocation(static_cast<uint64_t>(*session), r.event, r.transport);
  } else if (*type == "usage") {
    r.event = "usage";
    r.bytes_sent = json_integer_field(m.get(), "bytesSent").value_or(0);
    r.bytes_received = json_integer_field(m.get(), "bytesReceived").value_or(0);
    r.packets_sent = json_integer_field(m.get(), "packetsSent").value_or(0);
    r.packets_received = json_integer_field(m.get(), "packetsReceived").value_or(0);
    r.final = json_is_true(json_object_get(m.get(), "final"));
    metrics_.turn_relayed(r.bytes_sent, r.bytes_received);
    if (r.final) track_allocation(static_cast<uint64_t>(*session), "deleted", "");
  } else {
    metrics_.count_rejected("turn_report_malformed");
    return;
  }
  if (!call_log_.submit([r](CallWriter& w) { return w.record_turn(r); }, NoCompletion{}, CallLog::WhenFull::refuse))
    metrics_.count_rejected("turn_report_overloaded");
}

}  // namespace vytal
