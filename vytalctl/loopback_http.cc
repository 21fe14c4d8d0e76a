#include "vytalctl/loopback_http.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace vytal {
namespace {

constexpr size_t kMaxAnswerBytes = 4 << 20;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

Result<HttpAnswer> http_get(const std::string& host, int port, const std::string& path, int timeout_ms) {
  std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    return Error{"unreachable", where + ": cannot resolve the address"};
  Fd s;
  s.fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = s.fd < 0 ? -1 : ::connect(s.fd, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0 && errno != EINPROGRESS) return Error{"unreachable", where + ": " + std::strerror(errno)};
  if (rc != 0) {
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_for(s.fd, POLLOUT, timeout_ms)) return Error{"unreachable", where + ": no answer"};
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) return Error{"unreachable", where + ": " + std::strerror(err)};
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + where + "\r\nConnection: close\r\n\r\n";
  if (::send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
    return Error{"unreachable", where + ": " + std::strerror(errno)};
  std::string raw;
  char buf[8192];
  for (;;) {
    if (!wait_for(s.fd, POLLIN, timeout_ms)) return Error{"bad_answer", where + ": the answer did not arrive"};
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return Error{"bad_answer", where + ": " + std::strerror(errno)};
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > kMaxAnswerBytes) return Error{"bad_answer", where + ": the answer is too large"};
  }
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos)
    return Error{"bad_answer", where + ": not an HTTP answer"};
  HttpAnswer answer;
  answer.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  answer.body = raw.substr(head_end + 4);
  return answer;
}

std::optional<double> prometheus_value(const std::string& page, const std::string& series) {
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space != std::string::npos && line.compare(0, space, series) == 0 && space == series.size())
      return std::strtod(line.c_str() + space + 1, nullptr);
  }
  return std::nullopt;
}

}  // namespace vytal
