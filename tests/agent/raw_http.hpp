// HTTP over a plain socket, for the tests that must send what no well-behaved client sends:
// slow heads, header bombs, bad framing, pipelined requests, clients that vanish.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace agent_test {

class RawConn {
 public:
  // Connects to "127.0.0.1:PORT".
  explicit RawConn(const std::string& addr) {
    auto colon = addr.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
    ::inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  RawConn(RawConn&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

  bool ok() const { return fd_ >= 0; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Sends all of `data`; false if the peer closed or reset the connection.
  bool send(const std::string& data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until the peer closes, `until` appears in what was read, or `limit` passes.
  std::string read(std::chrono::milliseconds limit, const std::string& until = {}) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_by_peer_ = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
      if (!until.empty() && out.find(until) != std::string::npos) break;
    }
    return out;
  }
  // True once a read saw the peer close (or reset) the connection.
  bool closed_by_peer() const { return closed_by_peer_; }
  // Waits up to `limit` for the peer to close; true if it did.
  bool wait_closed(std::chrono::milliseconds limit) {
    read(limit);
    return closed_by_peer_;
  }

 private:
  int fd_ = -1;
  bool closed_by_peer_ = false;
};

// The status code of the first response in `raw` ("HTTP/1.1 431 ..." -> 431), or 0.
inline int status_of(const std::string& raw) {
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return 0;
  return std::atoi(raw.c_str() + 9);
}

}  // namespace agent_test
