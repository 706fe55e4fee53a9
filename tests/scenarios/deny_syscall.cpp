// deny_syscall NAME ERRNO -- COMMAND...: runs COMMAND under a seccomp filter that fails the
// system call NAME with ERRNO, as container runtimes' default profiles do for clone3 (ENOSYS) or
// sandboxes do (EPERM). Lets the scenarios check that tend falls back and says so.
//
// Two names stand for older kernels instead, refusing only some calls:
//   clone3-args        clone3 with a real argument (size != 0): a zero-sized probe still gets
//                      the kernel's EINVAL. With E2BIG that is 5.3/5.4 (no CLONE_INTO_CGROUP
//                      field), with EINVAL 5.5/5.6 (the flag unknown).
//   close_range-cloexec close_range with CLOSE_RANGE_CLOEXEC (5.9/5.10: EINVAL).
//   waitid-pidfd       waitid(P_PIDFD, ...) (5.3: EINVAL).
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 5 || std::strcmp(argv[3], "--") != 0) {
    std::fprintf(stderr,
                 "usage: deny_syscall clone3|pidfd_open|close_range|clone3-args|"
                 "close_range-cloexec|waitid-pidfd ENOSYS|EPERM|EINVAL|E2BIG -- COMMAND...\n");
    return 2;
  }
  const std::string name = argv[1];
  unsigned nr;
  // Which argument must be nonzero (after masking) for the call to be refused; -1: any call.
  int arg = -1;
  unsigned mask = 0;
  bool equals = false;  // refuse when the argument equals `mask` instead of having a bit of it
  if (name == "clone3") {
    nr = SYS_clone3;
  } else if (name == "pidfd_open") {
    nr = SYS_pidfd_open;
  } else if (name == "close_range") {
    nr = SYS_close_range;
  } else if (name == "clone3-args") {
    nr = SYS_clone3;
    arg = 1;  // size
    mask = ~0U;
  } else if (name == "close_range-cloexec") {
    nr = SYS_close_range;
    arg = 2;         // flags
    mask = 1U << 2;  // CLOSE_RANGE_CLOEXEC
  } else if (name == "waitid-pidfd") {
    nr = SYS_waitid;
    arg = 0;   // idtype
    mask = 3;  // P_PIDFD
    equals = true;
  } else {
    return 2;
  }
  const std::string e = argv[2];
  unsigned err = e == "EPERM" ? EPERM : e == "EINVAL" ? EINVAL : e == "E2BIG" ? E2BIG : ENOSYS;
  // Low 32 bits of the argument (x86_64 is little-endian).
  const unsigned arg_off =
      static_cast<unsigned>(offsetof(struct seccomp_data, args) + 8 * (arg < 0 ? 0 : arg));
  std::vector<struct sock_filter> filter = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
  };
  if (arg < 0) {
    filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
  } else {
    // Only calls whose argument has a bit of `mask` set.
    filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 3));
    filter.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg_off));
    filter.push_back(BPF_JUMP(BPF_JMP | (equals ? BPF_JEQ : BPF_JSET) | BPF_K, mask, 0, 1));
  }
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)));
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  struct sock_fprog prog = {static_cast<unsigned short>(filter.size()), filter.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    std::perror("deny_syscall: seccomp");
    return 2;
  }
  execvp(argv[4], argv + 4);
  std::perror("deny_syscall: exec");
  return 127;
}
