// An owned file descriptor. Every fd libtend opens lives in one of these, and is O_CLOEXEC.
#pragma once

#include <sys/types.h>

#include <string_view>
#include <utility>

#include "tend/error.hpp"

namespace tend {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(
      int fd = -1);  // closes the current fd (EINTR from close is not retried: Linux frees it)

 private:
  int fd_ = -1;
};

// write(2) until all of `data` is written (short writes continued, EINTR retried). On failure the
// Error is {"write", errno}; how much was written before it is unknown to the caller.
Expected<void> write_all(int fd, std::string_view data);
// The same with pwrite(2) at `offset` (the fd's own offset is left alone).
Expected<void> pwrite_all(int fd, std::string_view data, off_t offset);

}  // namespace tend
