// deny_syscall NAME ERRNO -- COMMAND...: runs COMMAND under a seccomp filter that fails the
// system call NAME with ERRNO, as container runtimes' default profiles do for clone3 (ENOSYS) or
// sandboxes do (EPERM). Lets the scenarios check that tend falls back and says so.
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

int main(int argc, char** argv) {
  if (argc < 5 || std::strcmp(argv[3], "--") != 0) {
    std::fprintf(stderr, "usage: deny_syscall clone3|pidfd_open ENOSYS|EPERM -- COMMAND...\n");
    return 2;
  }
  unsigned nr;
  if (std::strcmp(argv[1], "clone3") == 0)
    nr = SYS_clone3;
  else if (std::strcmp(argv[1], "pidfd_open") == 0)
    nr = SYS_pidfd_open;
  else
    return 2;
  unsigned err = std::strcmp(argv[2], "EPERM") == 0 ? EPERM : ENOSYS;
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    std::perror("deny_syscall: seccomp");
    return 2;
  }
  execvp(argv[4], argv + 4);
  std::perror("deny_syscall: exec");
  return 127;
}
