// SupervisorGuard: the job must not outlive its supervisor.
//
// A `kill -9` of the supervisor (tend run, a shim) runs none of its code: nothing would end the
// job, and its processes would run on in their cgroup unsupervised. So every Job is registered
// with a guard: a tiny forked process outside the jobs' scopes, in a session of its own (a kill of
// the supervisor's process group does not reach it), holding only its end of a socket whose other
// end only the supervisor holds, and the cgroup directory of each job it guards (passed over the
// socket). It sleeps in poll() until the supervisor's end closes; the supervisor's records do not
// wake it, a nudge every 32 records (or for an abandoned job) makes it read them.
//   * The supervisor ends a job normally: it writes "disarm"; the guard drops that job.
//   * The supervisor abandons a job (a Job destroyed before it is done): it writes "abandon"; the
//     guard kills that job's scope.
//   * The supervisor dies any other way: the kernel closes its end, the read returns 0, and the
//     guard kills the scope of every job still registered (cgroup.kill, or SIGKILL sweeps of
//     cgroup.procs before 5.14; at the session level, SIGKILL to the job's process group), removes
//     the emptied cgroups, exits.
// One guard serves every job of a process: it is forked at the first job (and again in a forked
// child of the supervisor, or if it was killed: the jobs still running are registered with the
// new one). A fork per job cost more than the rest of a short job together (docs/benchmarks.md).
// The bound: the job is killed as soon as the guard is scheduled after the supervisor's death
// (milliseconds). At the session level only the job's own process group is reached.
// Not bounded: a SIGKILL of the guard itself and of the supervisor together (e.g. the OOM killer
// taking both, or `kill -9 -1`); a killed guard's jobs until the next job starts. The cost per job
// is two 16-byte writes to the socket (three at the session level).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "tend/error.hpp"
#include "tend/scope.hpp"

namespace tend::detail {

class SupervisorGuard {
 public:
  // Registers `scope` with this process's guard (starting it if needed) before the job's main
  // process starts: if it cannot be guarded, nothing is started.
  static Expected<std::unique_ptr<SupervisorGuard>> start(const Scope& scope);
  // The job's main process: at the session level, the group the guard kills.
  void set_main(pid_t pid);
  // The job was ended (or left on purpose) by its supervisor: the guard drops it.
  void disarm();
  // Without disarm(): the supervisor abandons the job, the guard kills it (not waited for).
  ~SupervisorGuard();

  SupervisorGuard(const SupervisorGuard&) = delete;
  SupervisorGuard& operator=(const SupervisorGuard&) = delete;
  // The guard process this job is registered with (it may be replaced later, see above).
  pid_t pid() const;

 private:
  SupervisorGuard(uint64_t id, bool session) : id_(id), session_(session) {}
  uint64_t id_;
  bool session_;  // no cgroup: the guard kills the main process's group
  bool disarmed_ = false;
};

// The PID of this process's guard, -1 if none runs. A supervisor that moves itself into a leaf
// cgroup (tend/limits.hpp) moves its guard with it: the guard is its process, not a job's.
pid_t guard_process_pid();

}  // namespace tend::detail
