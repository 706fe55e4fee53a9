#include "supervisor_guard.hpp"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "claims.hpp"
#include "sys/syscalls.hpp"

namespace tend::detail {
namespace {

// What the guard needs, copied into it by the fork.
struct GuardPlan {
  int read_end = -1;
  int cgroup_fd = -1;  // -1: session level
  char cgroup_path[PATH_MAX] = {};
};

// What the supervisor writes to the guard (atomically: smaller than PIPE_BUF).
struct Message {
  enum Kind : int32_t { main_pid = 1, disarm = 2 };
  int32_t kind;
  int32_t pid;
};

void pause_ms(long ms) {
  struct timespec ts {
    0, ms * 1'000'000L
  };
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Before cgroup.kill (5.14): SIGKILL every PID listed until none is (killed processes cannot
// fork, so this converges).
void sweep_cgroup(int cgroup_fd) {
  for (int pass = 0; pass < 64; ++pass) {
    int procs = ::openat(cgroup_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    if (procs < 0) return;
    char buf[4096];
    bool any = false;
    long pid = 0;
    bool in_number = false;
    for (;;) {
      ssize_t n = ::read(procs, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] >= '0' && buf[i] <= '9') {
          pid = pid * 10 + (buf[i] - '0');
          in_number = true;
        } else if (in_number) {
          ::kill(static_cast<pid_t>(pid), SIGKILL);
          any = true;
          pid = 0;
          in_number = false;
        }
      }
    }
    ::close(procs);
    if (!any) return;
    pause_ms(1);
  }
}

// The guard's whole life. Async-signal-safe calls only: it is a fork of a process that may
// have threads. Every signal stays blocked (the supervisor blocked them around the fork).
[[noreturn]] void guard_main(const GuardPlan& plan) {
  (void)::setsid();  // a kill of the supervisor's process group must not take the guard too
  // Its command line is the supervisor's (a fork): the name tells them apart in ps and /proc.
  (void)::prctl(PR_SET_NAME, "tend-guard", 0, 0, 0);
  const int keep[] = {plan.read_end, plan.cgroup_fd};
  (void)sys::close_except(keep, plan.cgroup_fd >= 0 ? 2 : 1);
  pid_t main_pid = -1;
  for (;;) {
    Message m{};
    ssize_t n = ::read(plan.read_end, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n == static_cast<ssize_t>(sizeof m) && m.kind == Message::main_pid) {
      main_pid = m.pid;
      continue;
    }
    if (n == static_cast<ssize_t>(sizeof m) && m.kind == Message::disarm) ::_exit(0);
    break;  // EOF (or an error): the supervisor is gone without ending the job
  }
  if (plan.cgroup_fd < 0) {
    // The job leads its own session or process group.
    if (main_pid > 0) ::kill(-main_pid, SIGKILL);
    ::_exit(0);
  }
  int kill_fd = ::openat(plan.cgroup_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
  if (kill_fd < 0 || ::write(kill_fd, "1", 1) != 1) sweep_cgroup(plan.cgroup_fd);
  if (kill_fd >= 0) ::close(kill_fd);
  // Remove the emptied cgroup; the exits of killed processes take a moment (at most ~2 s here;
  // what is left is removed by the next tend's stale-scope sweep).
  for (int i = 0; i < 200; ++i) {
    if (::rmdir(plan.cgroup_path) == 0 || errno != EBUSY) break;
    pause_ms(10);
  }
  ::_exit(0);
}

// Reaps the guard (blocking: a disarmed guard exits as soon as it is scheduled).
void reap(pid_t pid, int pidfd) {
  siginfo_t si{};
  int r;
  do
    r = sys::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | __WALL,
                    nullptr);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EINVAL) {  // 5.3: no P_PIDFD; the PID is ours to reap (claimed)
    do r = sys::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | __WALL, nullptr);
    while (r < 0 && errno == EINTR);
  }
  unclaim(pid, /*reaped=*/r == 0);
}

bool send(int fd, Message m) {
  ssize_t n;
  do n = ::write(fd, &m, sizeof m);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof m);
}
}  // namespace

Expected<std::unique_ptr<SupervisorGuard>> SupervisorGuard::start(const Scope& scope) {
  GuardPlan plan;
  if (scope.level() == ScopeLevel::cgroup) {
    plan.cgroup_fd = scope.cgroup_fd();
    const std::string& path = scope.cgroup_path();
    if (path.size() >= sizeof plan.cgroup_path)
      return Error::with_detail("guard", "cgroup path too long");
    std::memcpy(plan.cgroup_path, path.c_str(), path.size() + 1);
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::from_errno("pipe2");
  UniqueFd read_end(p[0]);
  std::unique_ptr<SupervisorGuard> guard(new SupervisorGuard);
  guard->write_end_.reset(p[1]);
  plan.read_end = read_end.get();

  // No handler of ours may run in the guard; it keeps this mask for its whole life.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  pid_t pid;
  int fork_errno = 0;
  {
    // Claimed before the Reaper can see it exit: only we reap it.
    std::lock_guard lock(claims_mutex());
    pid = sys::fork_pidfd(&pidfd);
    if (pid == 0) guard_main(plan);
    if (pid < 0) fork_errno = errno;
    if (pid > 0) claim_locked(pid);
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Error::of_errno(fork_errno, "fork guard");
  guard->pid_ = pid;
  guard->pidfd_.reset(pidfd);
  return guard;
}

void SupervisorGuard::set_main(pid_t pid) {
  if (write_end_) (void)send(write_end_.get(), {Message::main_pid, pid});
}

void SupervisorGuard::disarm() {
  if (!write_end_) return;
  // A failed write cannot happen (the guard holds the read end); then the close below makes it
  // kill the job, which its supervisor has finished with anyway.
  (void)send(write_end_.get(), {Message::disarm, 0});
  write_end_.reset();
  disarmed_ = true;
}

SupervisorGuard::~SupervisorGuard() {
  if (!pidfd_) return;
  if (disarmed_) {
    // Reaped here, not in disarm(): the job's end is not delayed by the wait for the guard to be
    // scheduled, and no zombie of ours is left behind.
    reap(pid_, pidfd_.get());
    return;
  }
  write_end_.reset();               // without disarm(): EOF, the guard ends the abandoned job
  unclaim(pid_, /*reaped=*/false);  // not waited for (it may take its time): a Reaper reaps it
}

}  // namespace tend::detail
