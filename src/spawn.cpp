// spawn(): start a Command without copying the parent's page tables, inside its scope from birth.
//
// Level clone3: clone3(CLONE_PIDFD|CLONE_VM|CLONE_VFORK|CLONE_INTO_CGROUP) on a stack of our own;
// the child is in the job's cgroup before its first instruction. Level clone_pidfd (clone3
// refused with ENOSYS/EPERM, e.g. by seccomp; CLONE_INTO_CGROUP unknown, as on 5.3-5.6 (E2BIG,
// EINVAL); or not on x86_64): glibc's clone() with
// CLONE_PIDFD|CLONE_VM|CLONE_VFORK, and the child writes "0" to the cgroup's cgroup.procs
// before exec — still before the program runs a single instruction.
//
// Between clone and exec the child shares our memory and runs on its own stack: it only reads the
// ChildPlan the parent prepared and makes system calls; nothing is allocated. Because the parent
// is suspended until the child execs or exits (CLONE_VFORK), the child reports an exec failure
// by writing {stage, errno} into the plan itself: glibc's posix_spawn does the same. A pipe would
// cost two fds and two syscalls per spawn for no gain in this model.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "claims.hpp"
#include "spawn_internal.hpp"
#include "sys/syscalls.hpp"
#include "tend/child.hpp"
#include "tend/inherited_signals.hpp"
#include "tend/scope.hpp"

namespace tend {

namespace {

struct FdMove {
  int src;
  int dst;
};

// Everything the child needs, prepared by the parent. The child reads it and writes err_*.
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  FdMove* moves = nullptr;
  int nmoves = 0;
  const int* keep = nullptr;  // the dst fds, for close-on-exec marking
  int nkeep = 0;
  int max_dst = 2;
  int procs_fd = -1;  // clone_pidfd level: join the cgroup by writing "0" here
  const int* join_fds = nullptr;  // cgroup v1 groups carrying limits: "0" to each cgroup.procs
  size_t njoin = 0;
  bool new_session = false;
  bool process_group = false;
  pid_t take_terminal_from = 0;  // the parent's process group, if the child takes the terminal
  const char* cwd = nullptr;
  bool set_groups = false;
  const gid_t* groups = nullptr;
  size_t ngroups = 0;
  bool set_gid = false;
  gid_t gid = 0;
  bool set_uid = false;
  uid_t uid = 0;
  bool set_umask = false;
  mode_t umask = 0;
  const Rlimit* rlimits = nullptr;
  size_t nrlimits = 0;
  int pdeathsig = 0;
  pid_t parent_pid = 0;
  bool have_close_range = true;
  const sigset_t* ignored = nullptr;  // inherited_signals(): what the job gets
  const sigset_t* mask = nullptr;
  const char* err_stage = nullptr;
  int err_errno = 0;
  bool err_exec = false;   // the execve itself failed: the command's fault (126/127)
  bool err_chdir = false;  // the job's working directory: name it
};

[[noreturn]] __attribute__((no_sanitize("address", "undefined"))) void child_fail(
    ChildPlan* plan, const char* stage) {
  plan->err_errno = errno;
  plan->err_stage = stage;
  _exit(127);
}

// Runs in the child, on its own stack, sharing the parent's memory. System calls only.
__attribute__((no_sanitize("address", "undefined"))) int child_main(void* arg) {
  auto* plan = static_cast<ChildPlan*>(arg);

  // Signal dispositions as tend was started with them: ignored where tend's caller ignored them
  // (nohup, trap '' PIPE), default elsewhere, whatever tend itself installed or ignored since.
  // Every signal is blocked (the parent blocked them before the clone), so no handler of the
  // parent can run here on shared memory meanwhile.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction want {};
    want.sa_handler = sigismember(plan->ignored, sig) == 1 ? SIG_IGN : SIG_DFL;
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) != 0) continue;  // glibc-reserved signals: EINVAL
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != want.sa_handler)
      sigaction(sig, &want, nullptr);
  }

  if (plan->new_session && setsid() < 0) child_fail(plan, "setsid");
  if (plan->process_group && !plan->new_session && setpgid(0, 0) < 0) child_fail(plan, "setpgid");
  // Every signal is blocked here, so a background group's tcsetpgrp raises no SIGTTOU.
  if (plan->take_terminal_from > 0 && tcgetpgrp(STDIN_FILENO) == plan->take_terminal_from)
    (void)tcsetpgrp(STDIN_FILENO, getpid());  // best effort, as tini: the job runs regardless
  if (plan->procs_fd >= 0 && write(plan->procs_fd, "0", 1) != 1) child_fail(plan, "join cgroup");
  // The v1 groups are joined here by the child itself: with CLONE_VFORK the parent is suspended
  // until exec, so it could not move the child in time; the program starts limited.
  for (size_t i = 0; i < plan->njoin; ++i)
    if (write(plan->join_fds[i], "0", 1) != 1) child_fail(plan, "join cgroup v1");

  // Sources that a later dup2 could overwrite are first moved above every destination.
  for (int i = 0; i < plan->nmoves; ++i) {
    FdMove& m = plan->moves[i];
    if (m.src != m.dst && m.src <= plan->max_dst) {
      int moved = fcntl(m.src, F_DUPFD_CLOEXEC, plan->max_dst + 1);
      if (moved < 0) child_fail(plan, "dup");
      for (int j = i + 1; j < plan->nmoves; ++j)
        if (plan->moves[j].src == m.src) plan->moves[j].src = moved;
      m.src = moved;
    }
  }
  for (int i = 0; i < plan->nmoves; ++i) {
    const FdMove& m = plan->moves[i];
    if (m.src == m.dst) {
      if (fcntl(m.dst, F_SETFD, 0) < 0) child_fail(plan, "fcntl");
    } else if (dup2(m.src, m.dst) < 0) {
      child_fail(plan, "dup2");
    }
  }
  // Whatever fds the parent had without O_CLOEXEC (another library's) do not reach the job.
  if (sys::cloexec_from(3, plan->keep, plan->nkeep, plan->have_close_range) < 0)
    child_fail(plan, "close_range");

  if (plan->set_umask) ::umask(plan->umask);
  for (size_t i = 0; i < plan->nrlimits; ++i) {
    struct rlimit rl {
      plan->rlimits[i].soft, plan->rlimits[i].hard
    };
    if (setrlimit(static_cast<__rlimit_resource>(plan->rlimits[i].resource), &rl) < 0)
      child_fail(plan, "setrlimit");
  }
  if (plan->set_groups && sys::raw_setgroups(plan->ngroups, plan->groups) < 0)
    child_fail(plan, "setgroups");
  if (plan->set_gid && sys::raw_setgid(plan->gid) < 0) child_fail(plan, "setgid");
  if (plan->set_uid && sys::raw_setuid(plan->uid) < 0) child_fail(plan, "setuid");
  // After the credential change, so the directory is checked as the job's user.
  if (plan->cwd && chdir(plan->cwd) < 0) {
    plan->err_chdir = true;
    child_fail(plan, "chdir");
  }
  if (plan->pdeathsig) {
    if (prctl(PR_SET_PDEATHSIG, plan->pdeathsig) < 0) child_fail(plan, "prctl");
    if (getppid() != plan->parent_pid) _exit(128 + plan->pdeathsig);  // parent already gone
  }

  sigprocmask(SIG_SETMASK, plan->mask, nullptr);  // the mask tend was started with
  execve(plan->path, plan->argv, plan->envp);
  plan->err_exec = true;
  child_fail(plan, "execve");
}

// One stack per spawning thread, reused: with CLONE_VFORK the child is done with it (exec'd or
// exited) before clone returns in the parent. A failed mapping is retried at the next spawn and
// reports its own errno, not whatever errno holds by then.
class ChildStack {
 public:
  static constexpr size_t kSize = 64 * 1024;
  Expected<void> map() {
    if (base_) return {};
    void* p = mmap(nullptr, kSize + kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return Error::from_errno("mmap child stack");
    // The stack grows down into the guard page: an overflow faults instead of corrupting memory.
    if (mprotect(p, kGuard, PROT_NONE) != 0) {
      Error e = Error::from_errno("mprotect child stack");
      munmap(p, kSize + kGuard);
      return e;
    }
    base_ = static_cast<char*>(p);
    return {};
  }
  ~ChildStack() {
    if (base_) munmap(base_, kSize + kGuard);
  }
  char* low() const { return base_ ? base_ + kGuard : nullptr; }
  char* top() const { return base_ ? base_ + kGuard + kSize : nullptr; }

 private:
  static constexpr size_t kGuard = 4096;
  char* base_ = nullptr;
};

std::atomic<int> g_level{-1};

SpawnLevel probe_level() {
  if (const char* forced = std::getenv("TEND_SPAWN")) {
    if (std::strcmp(forced, "clone") == 0) return SpawnLevel::clone_pidfd;
  }
#if defined(__x86_64__)
  // clone3 is only worth it with CLONE_INTO_CGROUP (5.7): on 5.3-5.6 the flag is refused.
  if (sys::clone3_into_cgroup_works()) return SpawnLevel::clone3;
#endif
  return SpawnLevel::clone_pidfd;
}

// Parent-side fds the child maps onto 0/1/2 (closed once the child has exec'd).
struct StdioPlan {
  std::vector<UniqueFd> opened;  // fds we opened for the child (files, /dev/null, pipe ends)
  std::vector<FdMove> moves;
  UniqueFd parent_end[3];
};

Expected<void> plan_stdio(const Command& cmd, StdioPlan& sp) {
  int target_of_stdout = -1;  // the source fd the child's stdout comes from (for 2>&1)
  for (int n = 0; n < 3; ++n) {
    if (n == 2 && cmd.stderr_merged()) {
      sp.moves.push_back({target_of_stdout >= 0 ? target_of_stdout : 1, 2});
      continue;
    }
    const Stdio& s = cmd.stdio(n);
    int src = -1;
    switch (s.kind) {
      case Stdio::Kind::inherit:
        src = n;  // already in place
        break;
      case Stdio::Kind::null: {
        int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0) return Error::from_errno("open", "/dev/null");
        sp.opened.emplace_back(fd);
        src = fd;
        break;
      }
      case Stdio::Kind::file: {
        int flags = n == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | (s.append ? O_APPEND : O_TRUNC));
        int fd = ::open(s.path.c_str(), flags | O_CLOEXEC, 0666);
        if (fd < 0) return Error::from_errno("open", s.path);
        sp.opened.emplace_back(fd);
        src = fd;
        break;
      }
      case Stdio::Kind::fd:
        src = s.fd;
        break;
      case Stdio::Kind::pipe:
      case Stdio::Kind::capture: {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) < 0) return Error::from_errno("pipe2");
        int child_end = n == 0 ? p[0] : p[1];
        sp.parent_end[n].reset(n == 0 ? p[1] : p[0]);
        sp.opened.emplace_back(child_end);
        src = child_end;
        break;
      }
    }
    if (n == 1) target_of_stdout = src;
    if (s.kind != Stdio::Kind::inherit) sp.moves.push_back({src, n});
  }
  return {};
}

// The command could not be executed: 127 for ENOENT/ENOTDIR, 126 otherwise. execve says EACCES
// for a directory; say what GNU's tools say ("Is a directory", 126).
// `resolved` is what was executed, `named` what the caller wrote (the message names it).
Error exec_error(int code, const std::string& resolved, const std::string& named) {
  struct stat st {};
  if (code == EACCES && ::stat(resolved.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) code = EISDIR;
  return Error{"execve", code, named, {}, ErrorKind::exec};
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

void detail::force_spawn_level(SpawnLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

SpawnLevel current_spawn_level() {
  int l = g_level.load(std::memory_order_relaxed);
  if (l < 0) {
    l = static_cast<int>(probe_level());
    g_level.store(l, std::memory_order_relaxed);
  }
  return static_cast<SpawnLevel>(l);
}

Expected<Child> spawn(const Command& cmd, const Scope* scope) {
  if (cmd.argv().empty() || cmd.argv()[0].empty())
    return Error::with_detail("spawn", "empty command");

  std::string path = cmd.resolve_program();
  if (path.empty()) return exec_error(ENOENT, {}, cmd.argv()[0]);

  std::vector<std::string> argv_store = cmd.argv();
  std::vector<std::string> env_store = cmd.build_env();
  std::vector<char*> argv = c_strings(argv_store);
  std::vector<char*> envp = c_strings(env_store);

  StdioPlan sp;
  if (auto r = plan_stdio(cmd, sp); !r) return r.error();
  for (auto [parent_fd, child_fd] : cmd.extra_fds()) sp.moves.push_back({parent_fd, child_fd});
  std::vector<int> keep;
  int max_dst = 2;
  for (const auto& m : sp.moves) {
    keep.push_back(m.dst);
    max_dst = std::max(max_dst, m.dst);
  }

  ChildPlan plan;
  plan.path = path.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.moves = sp.moves.data();
  plan.nmoves = static_cast<int>(sp.moves.size());
  plan.keep = keep.data();
  plan.nkeep = static_cast<int>(keep.size());
  plan.max_dst = max_dst;
  plan.new_session = cmd.wants_new_session();
  plan.process_group = cmd.wants_process_group();
  if (plan.process_group && !plan.new_session && cmd.wants_terminal())
    plan.take_terminal_from = ::getpgrp();
  plan.cwd = cmd.cwd() ? cmd.cwd()->c_str() : nullptr;
  const Credentials& cr = cmd.credentials();
  if (cr.groups) {
    plan.set_groups = true;
    plan.groups = cr.groups->data();
    plan.ngroups = cr.groups->size();
  }
  if (cr.gid) {
    plan.set_gid = true;
    plan.gid = *cr.gid;
  }
  if (cr.uid) {
    plan.set_uid = true;
    plan.uid = *cr.uid;
  }
  if (cmd.umask()) {
    plan.set_umask = true;
    plan.umask = *cmd.umask();
  }
  plan.rlimits = cmd.rlimits().data();
  plan.nrlimits = cmd.rlimits().size();
  plan.pdeathsig = cmd.parent_death_signal();
  plan.parent_pid = ::getpid();
  // Probed with the flag the child uses: 5.9 and 5.10 have close_range but not
  // CLOSE_RANGE_CLOEXEC (EINVAL); a seccomp filter may refuse either. Then /proc/self/fd.
  static const bool have_close_range = sys::close_range_cloexec_works();
  plan.have_close_range = have_close_range;
  sigset_t ignored = inherited_signals().ignored;  // lives until the child has exec'd
  for (int sig : cmd.default_signals()) sigdelset(&ignored, sig);
  plan.ignored = &ignored;
  plan.mask = &inherited_signals().mask;
  make_children_waitable();  // an inherited SIG_IGN for SIGCHLD would make our waits fail

  thread_local ChildStack stack;
  if (auto mapped = stack.map(); !mapped) return mapped.error();

  if (scope) {
    plan.join_fds = scope->join_fds().data();
    plan.njoin = scope->join_fds().size();
  }

  SpawnLevel level = current_spawn_level();
  int cgroup_fd = scope ? scope->cgroup_fd() : -1;

  // Block every signal so that none of our handlers runs in the child on shared memory; the
  // child clears its mask just before exec.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  int pidfd = -1;
  pid_t pid = -1;
  int clone_errno = 0;
  const char* clone_stage = "clone";
  {
    std::lock_guard lock(detail::claims_mutex());
    if (level == SpawnLevel::clone3) {
      struct clone_args args {};
      args.flags = CLONE_PIDFD | CLONE_VM | CLONE_VFORK | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
      args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
      args.exit_signal = SIGCHLD;
      args.stack = reinterpret_cast<uint64_t>(stack.low());
      args.stack_size = ChildStack::kSize;
      args.cgroup = cgroup_fd >= 0 ? static_cast<uint64_t>(cgroup_fd) : 0;
      plan.procs_fd = -1;
      pid = sys::clone3_vm(&args, child_main, &plan);
      clone_stage = "clone3";
      if (pid < 0 && (errno == ENOSYS || errno == EPERM) && cgroup_fd < 0) {
        g_level.store(static_cast<int>(SpawnLevel::clone_pidfd));  // refused: fall back for good
        level = SpawnLevel::clone_pidfd;
      } else if (pid < 0 && cgroup_fd >= 0 &&
                 (errno == ENOSYS || errno == EPERM || errno == EOPNOTSUPP || errno == EBUSY ||
                  errno == EINVAL || errno == E2BIG)) {
        // Refused, or the cgroup cannot take CLONE_INTO_CGROUP, or the kernel predates it
        // (5.3/5.4: E2BIG for the larger clone_args; 5.5/5.6: EINVAL for the flag): join the
        // cgroup by hand below, and for good when the kernel itself is the reason.
        if (errno == ENOSYS || errno == EINVAL || errno == E2BIG)
          g_level.store(static_cast<int>(SpawnLevel::clone_pidfd));
        level = SpawnLevel::clone_pidfd;
      }
    }
    if (level == SpawnLevel::clone_pidfd && pid < 0) {
      plan.procs_fd = scope ? scope->procs_fd() : -1;
      plan.err_stage = nullptr;
      pid = ::clone(child_main, stack.top(), CLONE_PIDFD | CLONE_VM | CLONE_VFORK | SIGCHLD, &plan,
                    &pidfd);
      clone_stage = "clone";
    }
    if (pid < 0) clone_errno = errno;
    if (pid > 0) detail::claim_locked(pid);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  if (pid < 0) return Error{clone_stage, clone_errno, {}, {}};

  Child child;
  child.process_ = ProcessRef::adopt(pid, UniqueFd(pidfd));
  child.level_ = level;
  if (plan.err_stage) {
    (void)child.wait();  // reap the failed child: it exited with 127 before exec
    if (plan.err_exec) return exec_error(plan.err_errno, path, cmd.argv()[0]);
    Error err = Error::of_errno(plan.err_errno, plan.err_stage);
    if (plan.err_chdir && cmd.cwd()) err.path = *cmd.cwd();
    return err;
  }
  for (int n = 0; n < 3; ++n) child.pipes_[n] = std::move(sp.parent_end[n]);
  return child;
}

}  // namespace tend
