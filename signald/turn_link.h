// signald's side of the TURN server: the secret credentials are minted with
// (the key ring's current one, re-read when vytalctl rotates it, or the
// static TURN_SHARED_SECRET), revocations written for the TURN plugin, and
// the plugin's allocation and usage reports received on a Unix datagram
// socket and recorded in the call log (turn_usage). Event loop only.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "call_log/call_log.h"
#include "common/clock.h"
#include "common/handles.h"
#include "common/key_ring.h"
#include "signald/metrics.h"
#include "signald/revocation_file.h"

namespace vytal {

struct TurnLinkOptions {
  std::string static_secret;  // TURN_SHARED_SECRET
  std::string keyring_path;   // VYTAL_TURN_KEYRING_FILE
  std::string revoked_path;   // VYTAL_TURN_REVOKED_FILE
  std::string usage_socket;   // VYTAL_TURN_USAGE_SOCKET
  int64_t credential_ttl_s = 600;
  size_t max_revocations = 50000;  // VYTAL_TURN_MAX_REVOCATIONS
};

class TurnLink {
 public:
  TurnLink(event_base* base, TurnLinkOptions options, CallLog& call_log, Metrics& metrics, const Clock& clock);
  ~TurnLink();
  // Binds the usage socket; false with *error set when it cannot.
  bool start(std::string* error);

  // The secret to mint with now; empty when none is configured or readable.
  std::string current_secret();
  // Refuses the TURN user part (what follows "<expiry>:" in a username) from
  // now until every credential minted for it has expired. Queued for the
  // revocations file's own thread: constant time on the loop.
  void revoke(const std::string& turn_user);
  // Lifts a revocation (the participant rejoined the call).
  void unrevoke(const std::string& turn_user);
  // Null when VYTAL_TURN_REVOKED_FILE is not set.
  RevocationFile* revocations() { return revocations_.get(); }
  // The allocations open now for `user` in `call_id`, from the plugin's
  // reports, for the live view: [{session, transport, relay, since,
  // bytesSent, bytesReceived, sentBps, receivedBps, updatedAt}] (bytes as the
  // TURN server counts them on the client's side: sent to the client,
  // received from it; rates over the last kRateWindowMs of reports).
  json_t* allocations_json(const std::string& call_id, const std::string& user) const;
  static constexpr int64_t kRateWindowMs = 10000;

 private:
  static void on_readable(evutil_socket_t fd, short, void* self) noexcept;
  void handle(std::string_view datagram);
  void track_allocation(uint64_t session, const std::string& event, const std::string& transport);
  // Adds what a usage report relayed to vytal_turn_relayed_bytes_total.
  void count_relayed(uint64_t session, const TurnReport& report);

  TurnLinkOptions options_;
  CallLog& call_log_;
  Metrics& metrics_;
  const Clock& clock_;
  event_base* base_;
  EventPtr usage_event_;
  int usage_fd_ = -1;
  KeyRing ring_;
  std::string ring_stamp_;
  int64_t ring_checked_ms_ = 0;
  std::unique_ptr<RevocationFile> revocations_;
  // Allocations open now, for the gauges (a refresh of one signald did not
  // see created, after a restart, adds it), with the session's totals so far.
  struct Allocation {
    std::string transport;
    int64_t bytes_sent = 0, bytes_received = 0;
    // For the live view: whose it is, where it relays, and recent totals.
    std::string user_id, call_id, relay;
    int64_t since_ms = 0;
    struct Sample {
      int64_t at_ms, sent, received;
    };
    std::deque<Sample> samples;  // within kRateWindowMs, oldest first
  };
  void note_live(uint64_t session, const TurnReport& report);
  std::unordered_map<uint64_t, Allocation> allocations_;
};

}  // namespace vytal
