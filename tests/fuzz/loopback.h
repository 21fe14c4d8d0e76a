// What the fuzz targets that drive a real HttpServer share: a client socket
// on loopback whose bytes are read from the same libevent loop as the
// server's, so one thread runs both ends with no timer involved.
#pragma once

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace vytal::fuzz {

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "fuzz harness: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

// One client connection. Its read event lives in the server's event_base:
// whatever the server writes is appended to `received`; `eof` is set when
// the server has closed (or shut down) its side.
class LoopbackClient {
 public:
  LoopbackClient(event_base* base, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) die("socket");
    // Reset on close: no TIME_WAIT left behind by millions of runs.
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // A signal (libFuzzer's timers) may interrupt the connect; the
    // connection then completes by itself: wait for it and read its outcome.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno != EINTR) die("connect");
      pollfd p{fd_, POLLOUT, 0};
      while (::poll(&p, 1, -1) < 0)
        if (errno != EINTR) die("poll");
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        die("connect");
      }
    }
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
    ev_ = event_new(base, fd_, EV_READ | EV_PERSIST, &LoopbackClient::on_readable, this);
    event_add(ev_, nullptr);
  }
  ~LoopbackClient() {
    event_free(ev_);
    ::close(fd_);
  }
  LoopbackClient(const LoopbackClient&) = delete;
  LoopbackClient& operator=(const LoopbackClient&) = delete;

  // Queues bytes; write_some() sends what the socket takes.
  void queue(std::string_view bytes) { out_.append(bytes); }
  // Sends what it can without blocking; true once everything queued is sent.
  bool write_some() {
    while (!out_.empty()) {
      ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return false;
        out_.clear();  // the server closed on us: what is left cannot go
        return true;
      }
      out_.erase(0, static_cast<size_t>(n));
    }
    return true;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  std::string received;
  bool eof = false;

 private:
  static void on_readable(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<LoopbackClient*>(arg);
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        self->received.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      self->eof = true;  // 0: FIN; < 0: reset
      event_del(self->ev_);
      return;
    }
  }

  int fd_ = -1;
  event* ev_ = nullptr;
  std::string out_;
};

}  // namespace vytal::fuzz
