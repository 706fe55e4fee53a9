#include "tend/fd.hpp"

#include <unistd.h>

namespace tend {

void UniqueFd::reset(int fd) {
  // close() is not retried on EINTR: Linux has released the descriptor either way, and a retry
  // could close an fd another thread just got.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace tend
