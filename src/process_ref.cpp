#include "tend/process_ref.hpp"

#include <poll.h>

#include <algorithm>
#include <utility>

#include "sys/procfs.hpp"
#include "sys/syscalls.hpp"

namespace tend {

ProcessRef::ProcessRef(ProcessRef&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::move(o.pidfd_)),
      start_time_(std::exchange(o.start_time_, 0)) {}

ProcessRef& ProcessRef::operator=(ProcessRef&& o) noexcept {
  if (this != &o) {
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::move(o.pidfd_);
    start_time_ = std::exchange(o.start_time_, 0);
  }
  return *this;
}

Expected<ProcessRef> ProcessRef::open(pid_t pid) {
  auto fd = open_pidfd(pid);
  if (!fd) return fd.error();
  // Read after the pin: whatever /proc says now is about the pinned process, unless it already
  // exited (then is_alive() is false and the start time stays unknown).
  ProcessRef ref = adopt(pid, std::move(*fd));
  (void)ref.start_time();
  return ref;
}

Expected<ProcessRef> ProcessRef::open(const ProcessInfo& listed) {
  auto ref = open(listed.pid);
  if (!ref) return ref.error();
  // Looked at again after the pin: the same start time means the pidfd holds the listed process.
  if (ref->start_time() != listed.start_time)
    return Error{"pidfd_open", ESRCH, std::to_string(listed.pid), "the PID was recycled"};
  return ref;
}

ProcessRef ProcessRef::adopt(pid_t pid, UniqueFd pidfd) {
  ProcessRef ref;
  ref.pid_ = pid;
  ref.pidfd_ = std::move(pidfd);
  return ref;
}

unsigned long long ProcessRef::start_time() const {
  if (start_time_ == 0 && valid()) {
    // Only trusted while the pidfd says the process is not reaped: its PID is still its own.
    auto info = sys::read_proc(pid_);
    if (info && sys::pidfd_send_signal(pidfd_.get(), 0) == 0) start_time_ = info->start_time;
  }
  return start_time_;
}

Expected<void> ProcessRef::signal(int sig) const {
  if (!valid()) return Error{"pidfd_send_signal", EBADF, {}, {}};
  if (sys::pidfd_send_signal(pidfd_.get(), sig) < 0) {
    const int code = errno;  // before the path string allocates
    return Error{"pidfd_send_signal", code, std::to_string(pid_), {}};
  }
  return {};
}

bool ProcessRef::is_alive() const {
  if (!valid()) return false;
  struct pollfd p {
    pidfd_.get(), POLLIN, 0
  };
  int r;
  do r = ::poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  // An error of poll on a valid fd cannot happen; alive is the answer that acts with care.
  return r == 0;
}

bool ProcessRef::wait_until(Clock::time_point deadline) const {
  if (!valid()) return true;
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    struct pollfd p {
      pidfd_.get(), POLLIN, 0
    };
    int r = ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 1 << 30)));
    if (r > 0) return true;
    if (r == 0 && left <= 0) return false;
  }
}

void ProcessRef::wait() const {
  (void)wait_until(Clock::time_point::max());
}

}  // namespace tend
