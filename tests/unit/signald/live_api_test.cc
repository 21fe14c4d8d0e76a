// signald's local channel routes for the live view and actions
// (signald/internal/live_api.cc), over a real HttpServer's Unix socket with a
// real call log in a temporary directory: what they refuse (bad JSON, no
// reason, an unknown call or participant, the wrong method, a peer of
// another user) and that an accepted action is committed with its audit
// record.
#include "signald/internal/live_api.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "call_log/call_log.h"
#include "common/json.h"
#include "common/jwt.h"
#include "common/sqlite.h"
#include "http/http_server.h"
#include "signald/metrics.h"
#include "signald/signaling/signaling.h"
#include "signald/turn_link.h"

namespace vytal {
namespace {

constexpr char kUnknownCall[] = "0190f0f0-0000-7000-8000-000000000001";

class LiveApiTest : public ::testing::Test {
 protected:
  ManualClock clock_{1'800'000'000'000};
  std::filesystem::path dir_;
  SignaldSettings settings_;
  EventBasePtr base_;
  Metrics metrics_;
  std::optional<JwtVerifier> jwt_;
  std::unique_ptr<CallLog> log_;
  std::unique_ptr<TurnLink> turn_;
  std::unique_ptr<Signaling> signaling_;
  std::unique_ptr<LiveApi> live_;
  std::unique_ptr<HttpServer> server_;

  void SetUp() override {
    evthread_use_pthreads();
    dir_ = std::filesystem::temp_directory_path() / ("vytal-live-api-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    settings_.jwt.secret = "live-api-test-secret-0123456789abcdef";
    settings_.call_log.db_path = (dir_ / "calls.db").string();
    settings_.http.local_socket_path = (dir_ / "signald.sock").string();
    settings_.ice.revoked_path = (dir_ / "revoked").string();
    base_.reset(event_base_new());
    auto jwt = JwtVerifier::create(settings_.jwt);
    ASSERT_TRUE(jwt) << jwt.error().message;
    jwt_.emplace(std::move(jwt.value()));
    auto log = CallLog::open(base_.get(), settings_.call_log, clock_, metrics_.commits, [](const char*) {});
    ASSERT_TRUE(log) << log.error().message;
    log_ = std::move(log.value());
    turn_ = std::make_unique<TurnLink>(base_.get(), TurnLinkOptions{"turn-secret", "", settings_.ice.revoked_path, ""},
                                       *log_, metrics_, clock_);
    signaling_ =
        std::make_unique<Signaling>(SignalingDeps{settings_, *jwt_, *log_, metrics_, clock_, base_.get(), *turn_});
    live_ = std::make_unique<LiveApi>(*signaling_, *turn_, metrics_, clock_);
    server_ = std::make_unique<HttpServer>(base_.get(), settings_.http, metrics_,
                                           [this](HttpRequest& request, Responder responder) {
                                             if (request.local && LiveApi::handles(request))
                                               return live_->handle(request, std::move(responder));
                                             std::move(responder).send(HttpServer::error_response(404, "x", "x"));
                                           });
    std::string error;
    ASSERT_TRUE(server_->start(&error)) << error;
  }

  void TearDown() override {
    server_.reset();
    live_.reset();
    signaling_.reset();
    turn_.reset();
    log_.reset();
    base_.reset();
    std::filesystem::remove_all(dir_);
  }

  int Connect() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, settings_.http.local_socket_path.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    return fd;
  }

  // One request on the local channel; the whole answer once the server closes.
  std::string Request(const std::string& method, const std::string& path, const std::string& body = "") {
    int fd = Connect();
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: signald\r\nConnection: close\r\n";
    if (!body.empty() || method == "POST")
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    EXPECT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string out;
    bool closed = false;
    for (int i = 0; i < 5000 && !closed; ++i) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
      if (n == 0) closed = true;
      if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::close(fd);
    return out;
  }

  static int Status(const std::string& response) {
    return response.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(response.substr(9, 3)) : 0;
  }
  static std::string Body(const std::string& response) {
    size_t at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
  }
  static std::string Code(const std::string& response) {
    JsonPtr j = json_parse(Body(response), nullptr);
    const json_t* e = j ? json_object_get(j.get(), "error") : nullptr;
    auto code = e ? json_string_field(e, "code") : std::nullopt;
    return code ? std::string(*code) : "";
  }

  std::string CreateCall() {
    std::string id;
    NewCall call{"patient-1", "provider-1", "video", std::nullopt, std::nullopt};
    Actor service{"platform", Role::service, "127.0.0.1"};
    log_->submit([call, service](CallWriter& w) { return w.create(call, service); },
                 [&id](Result<CallUpdate> r) { id = r ? r->call.id : "failed: " + r.error().message; },
                 CallLog::WhenFull::refuse);
    for (int i = 0; i < 5000 && id.empty(); ++i) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return id;
  }
};

TEST_F(LiveApiTest, LiveAnswersTheRoomsAndOnlyToGet) {
  std::string r = Request("GET", "/internal/live");
  ASSERT_EQ(Status(r), 200) << r;
  JsonPtr j = json_parse(Body(r), nullptr);
  ASSERT_TRUE(j);
  EXPECT_TRUE(json_is_array(json_object_get(j.get(), "calls")));
  EXPECT_EQ(json_integer_field(j.get(), "now").value_or(0), clock_.now_ms());
  EXPECT_EQ(Status(Request("POST", "/internal/live", "{}")), 405);
  EXPECT_EQ(Status(Request("GET", std::string("/internal/calls/") + kUnknownCall + "/end")), 405);
  EXPECT_EQ(metrics_.rejected("method_not_allowed"), 2u);
  EXPECT_EQ(Status(Request("POST", std::string("/internal/calls/") + kUnknownCall + "/finish", "{}")), 404);
}

// An end the call log cannot commit (a write refused, as on a full disk:
// nothing of it is kept) is 503 call_log_unavailable, counted; the call is
// unchanged.
TEST_F(LiveApiTest, AnEndTheCallLogCannotCommitIsRefusedAndCounted) {
  std::string call = CreateCall();
  {
    auto db = sqlite_open(settings_.call_log.db_path, SqliteOpenOptions{});
    ASSERT_TRUE(db);
    std::string error;
    ASSERT_TRUE(sqlite_exec(db.value().get(),
                            "CREATE TRIGGER test_fail BEFORE UPDATE ON calls WHEN NEW.status <> OLD.status "
                            "BEGIN SELECT RAISE(ABORT, 'the test refuses this write'); END;",
                            &error))
        << error;
  }
  std::string r = Request("POST", "/internal/calls/" + call + "/end", R"({"actor":"cli:root","reason":"disk full"})");
  EXPECT_EQ(Status(r), 503) << r;
  EXPECT_EQ(Code(r), "call_log_unavailable");
  EXPECT_EQ(metrics_.rejected("call_log_unavailable"), 1u);
  auto c = log_->reader().get(call);
  ASSERT_TRUE(c && c.value());
  EXPECT_EQ(c.value()->status, CallStatus::scheduled);
}

TEST_F(LiveApiTest, RefusesBadJson) {
  std::string call = CreateCall();
  for (const char* body : {"{not json", "[1,2]", "\"reason\""}) {
    std::string r = Request("POST", "/internal/calls/" + call + "/end", body);
    EXPECT_EQ(Status(r), 400) << body << "\n" << r;
    EXPECT_EQ(Code(r), "invalid_json") << body;
  }
}

TEST_F(LiveApiTest, RefusesAnActionWithoutAReasonOrActor) {
  std::string call = CreateCall();
  for (const char* body :
       {R"({"actor":"olga"})", R"({"actor":"olga","reason":""})", R"({"actor":"olga","reason":"   "})",
        R"({"actor":"olga","reason":42})", "{\"actor\":\"olga\",\"reason\":\"a\\nb\"}"}) {
    std::string r = Request("POST", "/internal/calls/" + call + "/end", body);
    EXPECT_EQ(Status(r), 400) << body << "\n" << r;
    EXPECT_EQ(Code(r), "validation") << body;
    EXPECT_NE(Body(r).find("reason is required"), std::string::npos) << r;
  }
  std::string long_reason(501, 'x');
  EXPECT_EQ(Status(Request("POST", "/internal/calls/" + call + "/end",
                           R"({"actor":"olga","reason":")" + long_reason + "\"}")),
            400);
  std::string r = Request("POST", "/internal/calls/" + call + "/end", R"({"reason":"why"})");
  EXPECT_EQ(Status(r), 400);
  EXPECT_NE(Body(r).find("actor"), std::string::npos) << r;
  r = Request("POST", "/internal/calls/" + call + "/end", R"({"actor":"olga","actorRole":"viewer","reason":"why"})");
  EXPECT_EQ(Status(r), 400) << r;
  // Nothing was written: the call is still scheduled.
  auto c = log_->reader().get(call);
  ASSERT_TRUE(c && c.value());
  EXPECT_EQ(c.value()->status, CallStatus::scheduled);
}

TEST_F(LiveApiTest, RefusesAnUnknownCallOrParticipant) {
  const std::string body = R"({"actor":"olga","reason":"testing"})";
  std::string r = Request("POST", std::string("/internal/calls/") + kUnknownCall + "/end", body);
  EXPECT_EQ(Status(r), 404) << r;
  EXPECT_EQ(Code(r), "call_not_found");
  r = Request("POST", "/internal/calls/not-a-call-id/end", body);
  EXPECT_EQ(Status(r), 404) << r;
  EXPECT_EQ(Code(r), "call_not_found");
  r = Request("POST", std::string("/internal/calls/") + kUnknownCall + "/participants/patient-1/remove", body);
  EXPECT_EQ(Status(r), 404) << r;
  EXPECT_EQ(Code(r), "call_not_found");
  std::string call = CreateCall();
  r = Request("POST", "/internal/calls/" + call + "/participants/nobody-here/remove", body);
  EXPECT_EQ(Status(r), 404) << r;
  EXPECT_EQ(Code(r), "participant_not_found");
}

TEST_F(LiveApiTest, EndsACallWithItsAuditRecordThenRefusesTheSecondEnd) {
  std::string call = CreateCall();
  std::string r = Request("POST", "/internal/calls/" + call + "/end",
                          R"({"actor":"cli:root","actorRole":"cli","reason":"maintenance"})");
  ASSERT_EQ(Status(r), 200) << r;
  auto db = sqlite_open(settings_.call_log.db_path, SqliteOpenOptions{.read_only = true});
  ASSERT_TRUE(db);
  Statement q(db.value().get(),
              "SELECT actor_id, actor_role, detail FROM audit_log WHERE action = 'admin.call.end' AND call_id = ?");
  q.bind(1, call);
  ASSERT_EQ(q.step(), SQLITE_ROW);
  EXPECT_EQ(q.text(0), "cli:root");
  EXPECT_EQ(q.text(1), "cli");
  EXPECT_EQ(q.text(2), "maintenance");
  r = Request("POST", "/internal/calls/" + call + "/end", R"({"actor":"cli:root","reason":"again"})");
  EXPECT_EQ(Status(r), 409) << r;
  EXPECT_EQ(Code(r), "call_ended");
}

TEST_F(LiveApiTest, ClosesTheConnectionOfAPeerOfAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching to another user needs root";
  ::chmod(dir_.c_str(), 0755);
  ::chmod(settings_.http.local_socket_path.c_str(), 0666);  // the file lets anyone in: the peer's uid decides
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, settings_.http.local_socket_path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(4);
    std::string req = "POST /internal/calls/" + std::string(kUnknownCall) +
                      "/end HTTP/1.1\r\nHost: s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    // MSG_NOSIGNAL: signald may have closed already (that is the point), and
    // a write then would end the child with SIGPIPE instead of an exit status.
    (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::_exit(n <= 0 ? 0 : 5);  // closed without a byte of answer
  }
  int status = 0;
  for (int i = 0; i < 5000; ++i) {
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
    if (::waitpid(child, &status, WNOHANG) == child) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3/4: the child could not switch or connect; 5: it got an answer";
  EXPECT_EQ(metrics_.rejected("local_peer_refused"), 1u);
}

}  // namespace
}  // namespace vytal
