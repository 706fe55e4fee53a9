// Scope: the container of a job's process tree.
//
// Level `cgroup`: a cgroup v2 directory per job. No descendant can leave it without privilege;
// kill is `cgroup.kill` (atomic for the whole tree, frozen or not); "empty" is `populated 0` in
// `cgroup.events`, notified through the fd (EPOLLPRI), never polled.
//
// Level `session`: the fallback when no cgroup v2 is writable. The child starts in a new session
// and process group, this process becomes a child subreaper so orphans come back to it, and
// membership is a sweep of /proc (descendants of the main process, its session, and orphans
// adopted by us that descend from processes seen before). Weaker: a process that double-forks
// *and* calls setsid between two sweeps escapes, and emptiness is checked on a timer. Reported.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tend/error.hpp"
#include "tend/fd.hpp"
#include "tend/limits.hpp"

namespace tend {

enum class ScopeLevel { cgroup, session };
const char* to_string(ScopeLevel);

struct ScopeOptions {
  // Which level to use. nullopt: cgroup when a writable cgroup v2 is found, else session.
  // The environment variable TEND_SCOPE=cgroup|session overrides the automatic choice.
  std::optional<ScopeLevel> level;
  // Parent directory for job cgroups; empty: the cgroup this process is in.
  std::string cgroup_parent;
  // Name of the job's cgroup directory; empty: "tend-<pid>-<sequence>". A name that exists
  // already is an error (EEXIST), never a fallback to the session level.
  std::string name;
  // Resource limits for the whole scope (see tend/limits.hpp). Any limit that cannot be enforced
  // makes create() fail; none is ever dropped.
  Limits limits;
  // Which mechanism enforces them; nullopt: cgroup2 where the controllers are there, else
  // cgroup1. The environment variable TEND_LIMITS=cgroup2|cgroup1 does the same.
  std::optional<LimitsLevel> limits_level;
  // Where the v1 hierarchies are, as <root>/memory, <root>/pids, <root>/cpu; empty: from
  // /proc/self/mountinfo (or $TEND_CGROUP_V1_ROOT). Each must be a mounted v1 hierarchy.
  std::string cgroup_v1_root;
};

// Where the cgroup v2 hierarchy is mounted and whether we can make job cgroups under it.
struct CgroupSupport {
  std::string mount;      // e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified; empty if none
  std::string self;       // this process's cgroup directory (absolute path), if any
  bool writable = false;  // can mkdir a child of `self`
  bool has_kill = false;  // cgroup.kill exists (Linux >= 5.14)
  std::string why_not;    // when !writable: a sentence a user can act on
};
CgroupSupport probe_cgroup(const std::string& parent = {});

class Scope {
 public:
  virtual ~Scope() = default;

  // Makes a new, empty scope. Fails only if the requested level cannot be had.
  static Expected<std::unique_ptr<Scope>> create(const ScopeOptions& = {});
  // A cgroup-level scope for an existing cgroup v2 directory this process did not make, e.g. the
  // cgroup of a job whose supervisor died: to list, kill and remove what is left in it. Makes no
  // directory and touches no other cgroup; like any cgroup scope, it removes the directory on
  // release() or destruction once empty. Fails unless `cgroup_path` is a cgroup v2 directory
  // other than the root (whose "kill all" would be the whole machine).
  static Expected<std::unique_ptr<Scope>> attach(const std::string& cgroup_path);

  virtual ScopeLevel level() const = 0;
  // cgroup level: the cgroup directory; session level: empty.
  virtual const std::string& cgroup_path() const = 0;
  // cgroup level: an O_PATH|O_DIRECTORY fd of the cgroup for CLONE_INTO_CGROUP; else -1.
  virtual int cgroup_fd() const = 0;
  // cgroup level: the cgroup.procs fd the child writes "0" to when clone3 is refused; else -1.
  virtual int procs_fd() const = 0;

  // Tell the scope about the main process (session level needs it to find descendants).
  virtual void adopt_main(pid_t pid) = 0;

  // The processes in the scope now.
  virtual std::vector<pid_t> pids() const = 0;
  // True when no process is left. Cheap: one read of cgroup.events at the cgroup level.
  virtual bool empty() const = 0;
  // An fd that becomes ready (EPOLLPRI) when the cgroup's population changes; -1 at session
  // level, where the caller re-checks `empty()` on a short timer instead.
  virtual int events_fd() const = 0;

  // Sends `sig` to every process in the scope, sweeping again while a pass finds new ones (forked
  // meanwhile), for 500 ms at most at the cgroup level (a fork bomb never converges: kill_all
  // ends it). Returns how many distinct processes were signalled, skipping `except` (usually the
  // main process, already signalled). Cannot fail: a process gone or left is simply not counted.
  virtual int signal_all(int sig, pid_t except = -1) = 0;
  // SIGKILL everything: `cgroup.kill` at the cgroup level, repeated sweeps at the session level.
  virtual Expected<void> kill_all() = 0;
  // Blocks until `empty()` or `timeout`; true if empty. Woken by `events_fd()` at the cgroup
  // level, re-checked every 10 ms at the session level. For a caller with no event loop.
  Expected<bool> wait_empty(std::chrono::milliseconds timeout) const;

  // cgroup level: CPU use of everything that ever ran in the scope (cpu.stat), and peak memory
  // (memory.peak) if the memory controller is on. nullopt where the kernel gives no figure.
  struct Usage {
    std::optional<std::chrono::microseconds> user, system;
    std::optional<uint64_t> peak_memory_bytes;
  };
  virtual Usage usage() const = 0;

  // Limits: the mechanism in force (none without limits), what the scope has been given, the
  // cgroup.procs fds of v1 groups the child writes itself into before exec (empty unless
  // cgroup1), and the controllers' figures.
  virtual LimitsLevel limits_level() const { return LimitsLevel::none; }
  virtual const Limits& limits() const;
  virtual std::span<const int> join_fds() const { return {}; }
  virtual LimitUsage limit_usage() const { return {}; }

  // Removes the cgroup directory (only possible once empty). Also done by the destructor.
  virtual Expected<void> release() = 0;
};

}  // namespace tend
