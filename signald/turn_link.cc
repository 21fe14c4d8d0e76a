#include "signald/turn_link.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
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
    : options_(std::move(options)), call_log_(call_log), metrics_(metrics), clock_(clock), base_(base) {
  if (!options_.revoked_path.empty()) {
    revocations_ = std::make_unique<RevocationFile>(options_.revoked_path, options_.max_revocations, clock_.now_s());
    if (revocations_->loaded())
      LOG_INFO("turn: %zu revocation(s) of the previous run still in force", revocations_->loaded());
    metrics_.revocations = revocations_.get();
    metrics_.count_rejected_from("turn_revocations_over_cap", &revocations_->dropped_over_cap());
  }
}

TurnLink::~TurnLink() {
  if (revocations_) {
    metrics_.revocations = nullptr;
    metrics_.count_rejected_from("turn_revocations_over_cap", nullptr);
  }
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
  if (!revocations_) return;
  int64_t now = clock_.now_s();
  revocations_->revoke(turn_user, now + options_.credential_ttl_s + 60, now);
}

void TurnLink::unrevoke(const std::string& turn_user) {
  if (revocations_) revocations_->unrevoke(turn_user, clock_.now_s());
}

void TurnLink::track_allocation(uint64_t session, const std::string& event, const std::string& transport) {
  auto it = allocations_.find(session);
  if (event == "deleted") {
    if (it == allocations_.end()) return;
    metrics_.turn_allocation(it->second.transport, -1);
    allocations_.erase(it);
  } else if ((event == "created" || event == "refreshed") && it == allocations_.end()) {
    Allocation a;
    a.transport = transport;
    allocations_.emplace(session, std::move(a));
    metrics_.turn_allocation(transport, +1);
  }
}

void TurnLink::count_relayed(uint64_t session, const TurnReport& r) {
  if (!r.totals) {  // deltas
    if (auto it = allocations_.find(session); it != allocations_.end()) {
      it->second.bytes_sent += r.bytes_sent;
      it->second.bytes_received += r.bytes_received;
    }
    return metrics_.turn_relayed(r.bytes_sent, r.bytes_received);
  }
  // Totals: what grew since the session's previous report.
  auto it = allocations_.find(session);
  if (it == allocations_.end()) return;  // an allocation signald did not see: its totals would count twice
  metrics_.turn_relayed(r.bytes_sent - it->second.bytes_sent, r.bytes_received - it->second.bytes_received);
  it->second.bytes_sent = std::max(it->second.bytes_sent, r.bytes_sent);
  it->second.bytes_received = std::max(it->second.bytes_received, r.bytes_received);
}

void TurnLink::note_live(uint64_t session, const TurnReport& r) {
  auto it = allocations_.find(session);
  if (it == allocations_.end()) return;
  Allocation& a = it->second;
  int64_t now = clock_.now_ms();
  if (a.since_ms == 0) {
    a.since_ms = now;
    a.user_id = r.user_id;
    a.call_id = r.call_id.value_or("");
  }
  if (!r.relay_address.empty()) a.relay = r.relay_address;
  a.samples.push_back({now, a.bytes_sent, a.bytes_received});
  while (a.samples.size() > 2 && now - a.samples[1].at_ms >= kRateWindowMs) a.samples.pop_front();
  while (a.samples.size() > 64) a.samples.pop_front();
}

json_t* TurnLink::allocations_json(const std::string& call_id, const std::string& user) const {
  json_t* out = json_array();
  for (const auto& [session, a] : allocations_) {
    if (a.call_id != call_id || a.user_id != user) continue;
    json_t* j = json_object();
    json_put(j, "session", json_integer(static_cast<json_int_t>(session)));
    json_put(j, "transport", json_str(a.transport));
    json_put(j, "relay", a.relay.empty() ? json_null() : json_str(a.relay));
    json_put(j, "since", json_integer(a.since_ms));
    json_put(j, "bytesSent", json_integer(a.bytes_sent));
    json_put(j, "bytesReceived", json_integer(a.bytes_received));
    double sent_bps = 0, received_bps = 0;
    if (a.samples.size() >= 2 && a.samples.back().at_ms > a.samples.front().at_ms) {
      double seconds = static_cast<double>(a.samples.back().at_ms - a.samples.front().at_ms) / 1000.0;
      sent_bps = static_cast<double>(a.samples.back().sent - a.samples.front().sent) * 8 / seconds;
      received_bps = static_cast<double>(a.samples.back().received - a.samples.front().received) * 8 / seconds;
    }
    json_put(j, "sentBps", json_integer(static_cast<json_int_t>(std::max(0.0, sent_bps))));
    json_put(j, "receivedBps", json_integer(static_cast<json_int_t>(std::max(0.0, received_bps))));
    json_put(j, "updatedAt", a.samples.empty() ? json_null() : json_integer(a.samples.back().at_ms));
    json_array_append_new(out, j);
  }
  return out;
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
  if (type && *type == "started") {  // a TURN server (re)started: its earlier sessions are gone
    auto started_at = json_integer_field(m.get(), "startedAt");
    if (!started_at) return metrics_.count_rejected("turn_report_malformed");
    metrics_.turn_reports_dropped_by_plugin = json_integer_field(m.get(), "dropped").value_or(0);
    int64_t before_ms = *started_at * 1000;
    for (const auto& [id, allocation] : allocations_) metrics_.turn_allocation(allocation.transport, -1);
    allocations_.clear();  // the TURN server restarted: its allocations are gone
    call_log_.record([before_ms](CallWriter& w) { return w.close_turn_sessions_before(before_ms); });
    return;
  }
  if (type && *type == "counters") {  // the plugin's refusals since the TURN server started
    if (const json_t* refused = json_object_get(m.get(), "refused"); json_is_object(refused)) {
      const char* reason;
      json_t* n;
      json_object_foreach(const_cast<json_t*>(refused), reason, n) {
        if (json_is_integer(n)) metrics_.set_turn_refused(reason, json_integer_value(n));
      }
    }
    if (auto dropped = json_integer_field(m.get(), "dropped")) metrics_.turn_reports_dropped_by_plugin = *dropped;
    return;
  }
  auto username = json_string_field(m.get(), "username");
  auto session = json_integer_field(m.get(), "session");
  if (!type || !username || !session) {
    metrics_.count_rejected("turn_report_malformed");
    return;
  }
  if (username->empty()) return metrics_.count_rejected("turn_report_anonymous");  // never allocated
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
    note_live(static_cast<uint64_t>(*session), r);
  } else if (*type == "usage") {
    r.event = "usage";
    r.bytes_sent = json_integer_field(m.get(), "bytesSent").value_or(0);
    r.bytes_received = json_integer_field(m.get(), "bytesReceived").value_or(0);
    r.packets_sent = json_integer_field(m.get(), "packetsSent").value_or(0);
    r.packets_received = json_integer_field(m.get(), "packetsReceived").value_or(0);
    // Totals survive a dropped or repeated datagram; deltas are the fallback.
    if (auto total = json_integer_field(m.get(), "totalBytesSent")) {
      r.totals = true;
      r.bytes_sent = *total;
      r.bytes_received = json_integer_field(m.get(), "totalBytesReceived").value_or(0);
      r.packets_sent = json_integer_field(m.get(), "totalPacketsSent").value_or(0);
      r.packets_received = json_integer_field(m.get(), "totalPacketsReceived").value_or(0);
    }
    r.final = json_is_true(json_object_get(m.get(), "final"));
    count_relayed(static_cast<uint64_t>(*session), r);
    note_live(static_cast<uint64_t>(*session), r);
    if (r.final) track_allocation(static_cast<uint64_t>(*session), "deleted", "");
  } else {
    metrics_.count_rejected("turn_report_malformed");
    return;
  }
  if (!call_log_.submit([r](CallWriter& w) { return w.record_turn(r); }, NoCompletion{}, CallLog::WhenFull::refuse))
    metrics_.count_rejected("turn_report_overloaded");
}

}  // namespace vytal
