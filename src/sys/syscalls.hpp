// The raw Linux calls libtend needs that glibc 2.36 does not wrap (or wraps without a feature we
// need). Each returns like a libc call: -1 with errno set on failure. Nothing else in tend calls
// syscall() directly.
#pragma once

#include <linux/sched.h>  // struct clone_args
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cstddef>

namespace tend::sys {

int pidfd_open(pid_t pid, unsigned flags);
int pidfd_send_signal(int pidfd, int sig);
// waitid with the kernel's fifth argument, the rusage of the reaped child.
int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options, struct rusage* ru);
int close_range(unsigned first, unsigned last, unsigned flags);
int clone3_probe();  // clone3 with invalid args: tells ENOSYS/EPERM (refused) from EINVAL (present)
// clone3(CLONE_INTO_CGROUP) with a closed cgroup fd: EBADF means the kernel (5.7+) takes the flag;
// EINVAL/E2BIG (5.3-5.6), ENOSYS/EPERM (seccomp) that it cannot be used. Starts no process.
bool clone3_into_cgroup_works();
// close_range(CLOSE_RANGE_CLOEXEC) on an empty range: 5.11+, and not refused by seccomp.
bool close_range_cloexec_works();

// clone3 with CLONE_VM: the child runs `fn(arg)` on `args->stack` and exits with its return
// value; it never returns here. The parent gets the child's PID (or -1 and errno). Implemented in
// assembly because a CLONE_VM child cannot return through the C frames of the parent's stack.
// Available on x86_64 only; elsewhere it fails with ENOSYS and spawn falls back to clone().
pid_t clone3_vm(struct clone_args* args, int (*fn)(void*), void* arg);

inline constexpr unsigned kCloseRangeCloexec = 1U << 2;  // CLOSE_RANGE_CLOEXEC (5.11)

}  // namespace tend::sys

namespace tend::sys {

// Credential changes for a CLONE_VM child. glibc's setuid()/setgid()/setgroups() broadcast the
// change to every thread of the *process* (setxid signals), which in a vfork-style child means
// the parent's threads: they must be plain system calls here, as glibc's own posix_spawn does.
int raw_setgroups(size_t n, const gid_t* groups);
int raw_setgid(gid_t gid);
int raw_setuid(uid_t uid);

// Marks every fd >= `first` close-on-exec except those in keep[0..nkeep): close_range where the
// kernel has it (5.11), else a walk of /proc/self/fd with a stack buffer. Async-signal-safe and
// allocation-free: it runs in the child between clone and exec.
int cloexec_from(int first, const int* keep, int nkeep, bool have_close_range);

// fork() that also returns a pidfd of the child in *pidfd (clone(CLONE_PIDFD), 5.2), without
// glibc's fork handlers: the child may make async-signal-safe calls only. Returns 0 in the child.
// The child has no exit signal: wait for it with __WALL.
pid_t fork_pidfd(int* pidfd);

// Closes every fd except keep[0..nkeep) (0, 1 and 2 included): close_range (5.9) over the gaps,
// else a walk of /proc/self/fd. Async-signal-safe and allocation-free.
int close_except(const int* keep, int nkeep);

}  // namespace tend::sys
