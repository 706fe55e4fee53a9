// Child: one started process, held by its pidfd (a ProcessRef) and reaped by its owner. Signals and
// waits go through the pidfd, so a recycled PID is never hit, and waitid(P_PIDFD) reaps exactly
// this child and nothing else.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "tend/command.hpp"
#include "tend/error.hpp"
#include "tend/fd.hpp"
#include "tend/process_ref.hpp"

namespace tend {

class Scope;

// How a process ended.
struct ExitStatus {
  enum class Kind { exited, signaled };
  Kind kind = Kind::exited;
  int value = 0;  // exit code, or signal number
  bool core_dumped = false;

  bool exited() const { return kind == Kind::exited; }
  bool signaled() const { return kind == Kind::signaled; }
  // The shell's convention: N, or 128+N for signal N.
  int shell_code() const { return exited() ? value : 128 + value; }
  std::string describe() const;  // "exited with 3", "killed by SIGTERM"

  // From what waitid(2) reports for an exited child (si_code CLD_EXITED, CLD_KILLED, CLD_DUMPED).
  static ExitStatus from_siginfo(const siginfo_t& si);
};

// Which fallback spawn level is in force (reported by `tend doctor` and in Results).
enum class SpawnLevel {
  clone3,  // clone3(CLONE_PIDFD|CLONE_VM|CLONE_VFORK|CLONE_INTO_CGROUP): in its cgroup at birth
  clone_pidfd,  // clone(CLONE_PIDFD|CLONE_VM|CLONE_VFORK); the child joins its cgroup before exec
};
const char* to_string(SpawnLevel);

class Child {
 public:
  using Clock = std::chrono::steady_clock;

  Child() = default;
  Child(Child&&) noexcept;
  Child& operator=(Child&&) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Closes the pidfd. A child never waited for keeps running; its zombie is reaped by a Reaper
  // if the program has one, else when the program exits.
  ~Child();

  pid_t pid() const { return process_.pid(); }
  int pidfd() const { return process_.pidfd(); }  // readable (EPOLLIN) once the process has exited
  bool valid() const { return process_.valid(); }
  // The process itself: to pass on to code that signals or watches processes it did not start.
  const ProcessRef& process() const { return process_; }

  // Blocks until the child exits and reaps it. EINTR is retried.
  Expected<ExitStatus> wait();
  // Reaps it if it has exited; nullopt if it is still running.
  Expected<std::optional<ExitStatus>> try_wait();
  // Waits at most until `deadline`; nullopt if it is still running then.
  Expected<std::optional<ExitStatus>> wait_until(Clock::time_point deadline);
  // pidfd_send_signal: never hits a recycled PID. ESRCH once it has been reaped.
  Expected<void> signal(int sig);

  // Set once reaped.
  const std::optional<ExitStatus>& status() const { return status_; }
  // Resource usage of the child and the descendants it waited for; valid once reaped.
  const struct rusage& rusage() const { return rusage_; }

  // Parent ends of Stdio::pipe() / Stdio::capture() streams; invalid otherwise.
  UniqueFd& stdin_pipe() { return pipes_[0]; }
  UniqueFd& stdout_pipe() { return pipes_[1]; }
  UniqueFd& stderr_pipe() { return pipes_[2]; }
  int stdio_fd(int n) const { return pipes_[n].get(); }

  SpawnLevel spawn_level() const { return level_; }

 private:
  friend Expected<Child> spawn(const Command&, const Scope*);
  void release_claim();

  ProcessRef process_;
  UniqueFd pipes_[3];
  std::optional<ExitStatus> status_;
  struct rusage rusage_ {};
  SpawnLevel level_ = SpawnLevel::clone3;
};

// Starts `cmd`. With a scope, the child is inside it before it runs a single instruction of the
// program. Exec failures come back as values naming the stage: {"execve", ENOENT, "./job.sh"}.
// PATH is resolved before the clone; nothing is allocated between clone and exec.
Expected<Child> spawn(const Command& cmd, const Scope* scope = nullptr);

// The spawn level this process will use (probed once: clone3 may be refused by seccomp).
SpawnLevel current_spawn_level();

}  // namespace tend
