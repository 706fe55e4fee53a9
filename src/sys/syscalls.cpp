#include "sys/syscalls.hpp"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#if defined(__x86_64__)
extern "C" long tend_clone3_vm_raw(struct clone_args* args, size_t size, int (*fn)(void*),
                                   void* arg);
#endif

namespace tend::sys {

int pidfd_open(pid_t pid, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options, struct rusage* ru) {
  return static_cast<int>(::syscall(SYS_waitid, idtype, id, info, options, ru));
}

int close_range(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

int clone3_probe() {
  // A zero-sized argument is always EINVAL where clone3 exists; seccomp filters answer first.
  return static_cast<int>(::syscall(SYS_clone3, nullptr, 0));
}

bool clone3_into_cgroup_works() {
  // The kernel checks the cgroup fd late, after copying what the flags do not share: share
  // everything that can be, or the probe costs a fork of this process.
  struct clone_args args {};
  args.flags = CLONE_INTO_CGROUP | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND;
  args.exit_signal = SIGCHLD;
  args.cgroup = 0x7fffffff;  // a valid fd number that no process has open (beyond RLIMIT_NOFILE)
  long r = ::syscall(SYS_clone3, &args, sizeof args);
  if (r == 0) ::_exit(0);  // cannot happen; never let a copy of the caller run on
  if (r > 0) {
    ::waitpid(static_cast<pid_t>(r), nullptr, 0);
    return true;
  }
  return errno == EBADF;
}

bool close_range_cloexec_works() {
  return close_range(~0U, ~0U, kCloseRangeCloexec) == 0;
}

pid_t clone3_vm(struct clone_args* args, int (*fn)(void*), void* arg) {
#if defined(__x86_64__)
  long r = tend_clone3_vm_raw(args, sizeof(*args), fn, arg);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<pid_t>(r);
#else
  (void)args;
  (void)fn;
  (void)arg;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace tend::sys

#include <dirent.h>
#include <fcntl.h>

namespace tend::sys {

int raw_setgroups(size_t n, const gid_t* groups) {
  return static_cast<int>(::syscall(SYS_setgroups, n, groups));
}
int raw_setgid(gid_t gid) {
  return static_cast<int>(::syscall(SYS_setresgid, gid, gid, gid));
}
int raw_setuid(uid_t uid) {
  return static_cast<int>(::syscall(SYS_setresuid, uid, uid, uid));
}

namespace {
bool kept(int fd, const int* keep, int nkeep) {
  for (int i = 0; i < nkeep; ++i)
    if (keep[i] == fd) return true;
  return false;
}
}  // namespace

pid_t fork_pidfd(int* pidfd) {
  // Fork-like: no new stack, so the child returns here on a copy of ours. No exit signal: its
  // owner waits through the pidfd (with __WALL); a new parent after our death gets SIGCHLD.
  return static_cast<pid_t>(::syscall(SYS_clone, CLONE_PIDFD, nullptr, pidfd, nullptr, nullptr));
}

namespace {
// Calls `fn(fd)` for each fd in /proc/self/fd except the directory's own.
template <class Fn>
int each_fd(Fn fn) {
  int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -1;
  alignas(8) char buf[2048];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      int fd = 0;
      bool digits = d->d_name[0] != '\0';
      for (const char* c = d->d_name; *c; ++c) {
        if (*c < '0' || *c > '9')
          digits = false;
        else
          fd = fd * 10 + (*c - '0');
      }
      if (digits && fd != dir) fn(fd);
    }
  }
  ::close(dir);
  return 0;
}
}  // namespace

int close_except(const int* keep, int nkeep) {
  int lo = 0;
  for (;;) {
    int next_keep = -1;
    for (int i = 0; i < nkeep; ++i)
      if (keep[i] >= lo && (next_keep < 0 || keep[i] < next_keep)) next_keep = keep[i];
    unsigned hi = next_keep < 0 ? ~0U : static_cast<unsigned>(next_keep - 1);
    if ((next_keep < 0 || next_keep > lo) && close_range(static_cast<unsigned>(lo), hi, 0) != 0)
      break;  // before 5.9: the walk below
    if (next_keep < 0) return 0;
    lo = next_keep + 1;
  }
  // Closing while listing: getdents64 continues from its offset, so every fd is still seen.
  return each_fd([&](int fd) {
    if (!kept(fd, keep, nkeep)) ::close(fd);
  });
}

int cloexec_from(int first, const int* keep, int nkeep, bool have_close_range) {
  if (have_close_range) {
    // Walk the gaps between kept fds (there are few: usually none above 2).
    int lo = first;
    for (;;) {
      int next_keep = -1;
      for (int i = 0; i < nkeep; ++i)
        if (keep[i] >= lo && (next_keep < 0 || keep[i] < next_keep)) next_keep = keep[i];
      unsigned hi = next_keep < 0 ? ~0U : static_cast<unsigned>(next_keep - 1);
      if (next_keep < 0 || next_keep > lo) {
        // Refused after all (a filter that the probe did not meet): the walk below does it.
        if (close_range(static_cast<unsigned>(lo), hi, kCloseRangeCloexec) != 0) break;
      }
      if (next_keep < 0) return 0;
      lo = next_keep + 1;
    }
  }
  return each_fd([&](int fd) {
    if (fd >= first && !kept(fd, keep, nkeep)) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  });
}

}  // namespace tend::sys
