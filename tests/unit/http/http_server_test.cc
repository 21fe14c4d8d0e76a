// HttpServer's answers to HEAD and to requests it refuses, on a real loopback
// connection: a HEAD gets headers only, anything else the whole body its
// Content-Length announces, even when its request line began with 'H' or
// followed a HEAD (http-parser guesses the method from the first letter;
// found by tests/fuzz/http_server_fuzz).
#include "http/http_server.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace vytal {
namespace {

struct Answer {
  int status = 0;
  size_t content_length = 0;
  size_t body_bytes = 0;  // bytes that followed the headers before the next response or the end
};

struct Case {
  const char* name;
  std::string request;
  std::vector<std::pair<int, bool>> expected;  // status, whether its body is sent
};

class HttpServerAnswerTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    HttpServerOptions options;
    options.max_header_bytes = 1024;
    server_ = std::make_unique<HttpServer>(base_.get(), options, metrics_, [](HttpRequest&, Responder r) {
      HttpResponse response;
      response.body = "{\"hello\":\"world\"}";
      std::move(r).send(std::move(response));
    });
    std::string error;
    ASSERT_TRUE(server_->start(&error)) << error;
  }

  // Sends the bytes, half-closes, and runs the loop until the server closes.
  std::string Exchange(const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::shutdown(fd, SHUT_WR);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    struct Reader {
      std::string in;
      bool eof = false;
    } reader;
    EventPtr ev(event_new(
        base_.get(), fd, EV_READ | EV_PERSIST,
        [](evutil_socket_t fd, short, void* arg) {
          auto* r = static_cast<Reader*>(arg);
          char buf[4096];
          ssize_t n;
          while ((n = ::read(fd, buf, sizeof buf)) > 0) r->in.append(buf, static_cast<size_t>(n));
          if (n == 0 || (n < 0 && errno != EAGAIN)) r->eof = true;
        },
        &reader));
    event_add(ev.get(), nullptr);
    while (!reader.eof) event_base_loop(base_.get(), EVLOOP_ONCE);
    ev.reset();
    ::close(fd);
    return reader.in;
  }

  static std::vector<Answer> Parse(const std::string& in) {
    std::vector<Answer> out;
    size_t pos = 0;
    while (pos < in.size()) {
      size_t end = in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      Answer a;
      a.status = std::stoi(in.substr(pos + 9, 3));
      size_t cl = in.find("Content-Length: ", pos);
      if (cl != std::string::npos && cl < end) a.content_length = std::stoul(in.substr(cl + 16));
      pos = end + 4;
      size_t next = in.find("HTTP/1.1 ", pos);
      a.body_bytes = (next == std::string::npos ? in.size() : next) - pos;
      pos += a.body_bytes;
      out.push_back(a);
    }
    return out;
  }

  EventBasePtr base_;
  HttpMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
};

TEST_P(HttpServerAnswerTest, SendsTheBodyUnlessTheRequestWasHead) {
  const Case& c = GetParam();
  std::vector<Answer> answers = Parse(Exchange(c.request));
  ASSERT_EQ(answers.size(), c.expected.size());
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i].status, c.expected[i].first) << "answer " << i;
    EXPECT_GT(answers[i].content_length, 0u) << "answer " << i;
    EXPECT_EQ(answers[i].body_bytes, c.expected[i].second ? answers[i].content_length : 0u) << "answer " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Requests, HttpServerAnswerTest,
    ::testing::Values(
        Case{"Get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", {{200, true}}},
        Case{"Head", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", {{200, false}}},
        Case{"MalformedStartingWithH", "HX / HTTP/1.1\r\n\r\n", {{400, true}}},
        Case{"MalformedAfterAHead",
             "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nHEAD\x01 / HTTP/1.1\r\n\r\n",
             {{200, false}, {400, true}}},
        Case{"HeadWithHeadersTooLarge",
             "HEAD / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n",
             {{431, false}}},
        // RFC 9110 10.1.1: no 100 Continue for an HTTP/1.0 client.
        Case{"ExpectOnHttp10", "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", {{200, true}}},
        Case{"GetWithHeadersTooLarge",
             "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n",
             {{431, true}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// Out of descriptors, accept() fails at once for as long as a connection
// waits: each listener pauses for a moment instead of spinning, counts it,
// and serves the connection once descriptors are free again.
class HttpServerAcceptTest : public ::testing::TestWithParam<bool> {};

TEST_P(HttpServerAcceptTest, OutOfDescriptorsPausesAcceptingThenServes) {
  const bool local = GetParam();
  EventBasePtr base(event_base_new());
  HttpMetrics metrics;
  HttpServerOptions options;
  std::string path = "/tmp/vytal-accept-test-" + std::to_string(::getpid()) + ".sock";
  if (local) options.local_socket_path = path;
  HttpServer server(base.get(), options, metrics, [](HttpRequest&, Responder r) {
    HttpResponse response;
    response.body = "{}";
    std::move(r).send(std::move(response));
  });
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;

  int fd = ::socket(local ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
  if (local) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strcpy(un.sun_path, path.c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  const std::string request = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));

  // Every descriptor below a lowered limit taken: the server cannot accept.
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  int probe = ::dup(0);
  ASSERT_GE(probe, 0);
  ::close(probe);
  rlimit low = before;
  low.rlim_cur = static_cast<rlim_t>(probe) + 1;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> taken;
  for (int d; (d = ::dup(0)) >= 0;) taken.push_back(d);
  for (int i = 0; i < 20; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  uint64_t failed = metrics.rejected("accept_failed");
  EXPECT_GE(failed, 1u) << "the failed accept was not counted";
  EXPECT_LE(failed, 2u) << "the listener kept retrying instead of pausing";

  for (int d : taken) ::close(d);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &before), 0);
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  std::string in;
  for (int i = 0; i < 2000 && in.find("\r\n\r\n{}") == std::string::npos; ++i) {
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    ::usleep(1000);
  }
  EXPECT_EQ(in.rfind("HTTP/1.1 200", 0), 0u) << "not served after the pause: " << in;
  ::close(fd);
  ::unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Listeners, HttpServerAcceptTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Local" : "Tcp"; });

}  // namespace
}  // namespace vytal
