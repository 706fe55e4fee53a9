#include "tend/fd.hpp"

#include <unistd.h>

#include <cerrno>

namespace tend {

void UniqueFd::reset(int fd) {
  // close() is not retried on EINTR: Linux has released the descriptor either way, and a retry
  // could close an fd another thread just got.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Expected<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int code = errno;  // before anything allocates
      return Error{"write", code, {}, {}};
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Expected<void> pwrite_all(int fd, std::string_view data, off_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int code = errno;
      return Error{"pwrite", code, {}, {}};
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return {};
}

}  // namespace tend
