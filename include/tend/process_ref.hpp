// ProcessRef: one process, pinned by a pidfd (in the spirit of systemd's PidRef). Signals and
// waits go through the pidfd, so they reach the process it was made for and never another one
// that got its PID later. With the start time, (pid, start time) also names it in /proc listings
// and in files that outlive this program.
//
// The zero value (default-constructed or moved from) refers to no process: pid() is -1, valid()
// is false, is_alive() is false, signal() fails with EBADF and waits return at once.
#pragma once

#include <sys/types.h>

#include <chrono>

#include "tend/error.hpp"
#include "tend/fd.hpp"
#include "tend/process.hpp"

namespace tend {

class ProcessRef {
 public:
  using Clock = std::chrono::steady_clock;

  ProcessRef() = default;
  ProcessRef(ProcessRef&&) noexcept;
  ProcessRef& operator=(ProcessRef&&) noexcept;
  ProcessRef(const ProcessRef&) = delete;
  ProcessRef& operator=(const ProcessRef&) = delete;
  ~ProcessRef() = default;

  // Pins the process `pid` names now. ESRCH if there is none.
  static Expected<ProcessRef> open(pid_t pid);
  // Pins the process `listed` describes, if its PID still names it (same start time): the way to
  // act on a process found in list_processes(). ESRCH if it is gone or its PID was recycled.
  static Expected<ProcessRef> open(const ProcessInfo& listed);
  // Takes a pidfd that already pins `pid` (from clone's CLONE_PIDFD).
  static ProcessRef adopt(pid_t pid, UniqueFd pidfd);

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }  // readable (EPOLLIN) once the process has exited
  bool valid() const { return pidfd_.valid(); }
  // Clock ticks since boot (proc(5) field 22), read from /proc on first use for an adopted pidfd;
  // 0 if the process had been reaped before anyone asked.
  unsigned long long start_time() const;

  // pidfd_send_signal; sig 0 only checks. ESRCH once the process has been reaped (a zombie
  // still takes, and ignores, signals: ask is_alive() whether it runs).
  Expected<void> signal(int sig) const;
  // False once the process has exited, zombie or not, or for the zero value.
  bool is_alive() const;
  // Blocks until the process has exited, at most until `deadline`: true if it has. It does not
  // reap: the parent does that (a Child through its own waitid). Cannot fail: poll(2) on a
  // pidfd has no error but EINTR and ENOMEM, and both are retried.
  bool wait_until(Clock::time_point deadline) const;
  void wait() const;

 private:
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  mutable unsigned long long start_time_ = 0;
};

}  // namespace tend
