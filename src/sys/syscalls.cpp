#include "sys/syscalls.hpp"

#include <sys/syscall.h>
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
        if (close_range(static_cast<unsigned>(lo), hi, kCloseRangeCloexec) != 0) return -1;
      }
      if (next_keep < 0) return 0;
      lo = next_keep + 1;
    }
  }
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
      if (!digits || fd < first || fd == dir || kept(fd, keep, nkeep)) continue;
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  ::close(dir);
  return 0;
}

}  // namespace tend::sys
