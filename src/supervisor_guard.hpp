// SupervisorGuard: the job must not outlive its supervisor.
//
// A `kill -9` of the supervisor (tend run, a shim) runs none of its code: nothing would end the
// job, and its processes would run on in their cgroup unsupervised. So each Job has a guard: a
// tiny forked process (started before the job) outside the job's scope, in a session of its own (a
// kill of the supervisor's process group does not reach it), holding only the read end of a pipe
// whose write end only the supervisor holds, and the job's cgroup directory. It sleeps in one
// blocking read.
//   * The supervisor ends the job normally: it writes "disarm"; the guard exits and is reaped
//     when the Job is destroyed.
//   * The supervisor dies any other way: the kernel closes the write end, the read returns 0, and
//     the guard kills the whole scope (cgroup.kill, or SIGKILL sweeps of cgroup.procs before 5.14;
//     at the session level, SIGKILL to the job's process group), removes the empty cgroup, exits.
// The bound: the job is killed as soon as the guard is scheduled after the supervisor's death
// (milliseconds). At the session level only the job's own process group is reached.
// Not bounded: a SIGKILL of the guard itself and of the supervisor together (e.g. the OOM killer
// taking both, or `kill -9 -1`). The cost per job is one fork of the supervisor and one pipe.
#pragma once

#include <sys/types.h>

#include <memory>

#include "tend/error.hpp"
#include "tend/fd.hpp"
#include "tend/scope.hpp"

namespace tend::detail {

class SupervisorGuard {
 public:
  // Starts the guard of `scope`, before the job's main process (nothing of the job is in its fds).
  static Expected<std::unique_ptr<SupervisorGuard>> start(const Scope& scope);
  // The job's main process: at the session level, the group the guard kills.
  void set_main(pid_t pid);
  // The job was ended (or left on purpose) by its supervisor: the guard exits.
  void disarm();
  // After disarm(): reaps the guard. Without: the supervisor abandons the job, the guard kills
  // it (not waited for).
  ~SupervisorGuard();

  SupervisorGuard(const SupervisorGuard&) = delete;
  SupervisorGuard& operator=(const SupervisorGuard&) = delete;
  pid_t pid() const { return pid_; }

 private:
  SupervisorGuard() = default;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd write_end_;
  bool disarmed_ = false;
};

}  // namespace tend::detail
