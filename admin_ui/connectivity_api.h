// The connectivity test (issue 13): the routes behind the admin page's
// "Connectivity test" and the public patient test link.
//
// Logged in (under /api/, the session and CSRF checks done by AdminApi):
//   GET  /api/conntest                  the TURN URLs a test tries, recent runs, the links
//   GET  /api/conntest/latest           the newest result: which TURN ports it reached
//   POST /api/conntest/start            a run: its id and a fresh TURN credential for it
//   POST /api/conntest/runs/{id}        the browser's result for a run this session started
//   POST /api/conntest/links {label,hours|minutes} a patient test link (operator)
//   POST /api/conntest/links/{id}/revoke          (operator)
//
// Public, for a clinic holding a link (no account; nginx serves it at
// /network-test/, outside the admin page's /admin/):
//   GET  /network-test/                 the test page (and its ES modules, style)
//   POST /network-test/api/start        Authorization: Bearer <link token>
//   POST /network-test/api/runs/{id}    the same token; the result
//
// A link token is "v1.<id>.<expiry>.<HMAC-SHA256>" with a key kept in
// admin.db: a forged or altered token is refused before any database work;
// the link's row then says whether it was revoked or used up. The token
// lives in the URL's fragment, which browsers never send, so no log on the
// way holds it. A link gives nothing but this test: it starts runs (at most
// kMaxRunsPerLink, one per kLinkRunIntervalS) and posts their results; each
// run gets a TURN credential for a user of its own ("nettest-...") that
// lives at most kCredentialTtlS. Refusals are rate-limited per address and
// audited at most once a minute per address; runs and results are audited.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "admin_ui/audit_outbox.h"
#include "admin_ui/connectivity_store.h"
#include "admin_ui/sessions.h"
#include "admin_ui/web_server.h"
#include "common/clock.h"
#include "common/config.h"

namespace vytal {

inline constexpr const char* kPublicTestPath = "network-test";

struct ConnectivitySettings {
  std::vector<std::string> turn_urls;  // WEBRTC_TURN_SERVERS
  std::string turn_secret;             // TURN_SHARED_SECRET (without a key ring)
  std::string keyring_path;            // VYTAL_TURN_KEYRING_FILE: its current secret mints
  int64_t ttl_s = 300;                 // min(TURN_CREDENTIAL_TTL_SECONDS, kCredentialTtlS)
  int tls_port = 5349;                 // VYTAL_TURN_TLS_PORT
  bool tls_enabled = false;            // VYTAL_TURN_CERT_FILE is set
};

ConnectivitySettings read_connectivity_settings(const Config& config);

// One TURN URL a test tries.
struct TestServer {
  std::string id;         // "s1", "s2", ...
  std::string url;        // turn:... / turns:...
  std::string transport;  // udp, tcp, tls
  int port = 0;
  bool offered = true;  // in WEBRTC_TURN_SERVERS; false: a listening port clients are not given
  std::string label;    // "TURN over TLS on port 443 (nginx, by name)"
};

// Every URL of WEBRTC_TURN_SERVERS (at most 8), plus TURN over TLS on
// VYTAL_TURN_TLS_PORT by the first turns: URL's name when the TURN server
// has a certificate and no URL names that port.
std::vector<TestServer> connectivity_test_servers(const ConnectivitySettings& settings);

class ConnectivityApi {
 public:
  static constexpr int64_t kCredentialTtlS = 300;
  static constexpr int kMaxRunsPerLink = 10;
  static constexpr int64_t kLinkRunIntervalS = 15;
  static constexpr int64_t kDefaultLinkHours = 24;
  static constexpr int64_t kMaxLinkHours = 7 * 24;

  ConnectivityApi(ConnectivitySettings settings, const Clock& clock, sqlite3* admin_db, AuditOutbox& outbox,
                  AuditShipper* shipper);

  // seg: the path's segments after "api", "conntest".
  WebResponse admin(WebRequest& req, const Session& session, const std::string& client,
                    const std::vector<std::string>& seg);
  // seg: the path's segments after "network-test".
  WebResponse public_route(WebRequest& req, const std::string& client, const std::vector<std::string>& seg);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  struct LinkCheck {
    std::optional<TestLink> link;
    std::string id;  // the link's id once the token's signature holds
    int status = 0;
    std::string code, message;
  };

  WebResponse overview();
  WebResponse latest();
  WebResponse start(WebRequest& req, const std::string& source, const std::string& actor,
                    const std::optional<TestLink>& link, const std::string& client);
  WebResponse finish(WebRequest& req, const std::string& run_id, const std::string& actor, const std::string& client,
                     bool audit_it);
  WebResponse add_link(WebRequest& req, const Session& session, const std::string& client);
  WebResponse revoke_link(const std::string& id, const Session& session, const std::string& client);
  LinkCheck check_token(const WebRequest& req);
  std::string make_token(const std::string& id, int64_t expires_s, const std::string& key) const;
  // Token bucket per key (refilled at per_s up to burst): whether a token is
  // there, taken when `consume`.
  bool take(std::unordered_map<std::string, Bucket>& table, const std::string& key, double burst, double per_s,
            bool consume);
  bool audit(const std::string& actor, const std::string& role, const std::string& action, const std::string& outcome,
             const std::string& client, const std::string& detail);

  ConnectivitySettings settings_;
  const Clock& clock_;
  ConnectivityStore store_;
  AuditOutbox& outbox_;
  AuditShipper* shipper_;
  std::unordered_map<std::string, Bucket> refusals_;       // per address: refused link requests
  std::unordered_map<std::string, Bucket> public_starts_;  // per address: runs started through links
  std::unordered_map<std::string, int64_t> refusal_audited_ms_;
};

}  // namespace vytal
