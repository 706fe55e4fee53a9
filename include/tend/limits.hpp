// Resource limits for a job's whole scope: memory, processes, CPU, through cgroup controllers.
//
// Two mechanisms, chosen per job and reported (like the spawn and scope levels):
// - `cgroup2`: the job's own cgroup v2 directory gets memory.max, pids.max, cpu.max... This needs
//   the controllers enabled in the parent's cgroup.subtree_control, and cgroup v2 allows that only
//   in a cgroup without processes ("no internal processes"): the supervisor moves itself into a
//   leaf `tend-supervisor` of its own cgroup and makes job cgroups beside it (systemd's
//   delegation model, `Delegate=yes`).
// - `cgroup1`: on hybrid hosts (v2 without the controllers, v1 hierarchies for memory, pids, cpu)
//   the job gets one v1 cgroup per hierarchy it needs, beside its v2 scope. The child writes
//   itself into each one between clone and exec (a write(2) each, nothing allocated), so the
//   program starts limited; they are removed with the scope.
// Neither: Scope::create refuses, naming the controller and why. A limit is never ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tend/error.hpp"

namespace tend {

struct Limits {
  std::optional<uint64_t> memory_max;   // bytes; the OOM killer acts above it
  std::optional<uint64_t> memory_high;  // bytes; throttled and reclaimed above it (v1: soft limit)
  std::optional<uint64_t> swap_max;     // bytes of swap (v1: memory+swap, needs memory_max)
  std::optional<uint64_t> pids_max;     // processes and threads at once; fork fails above it
  std::optional<double> cpus;           // CPU quota in CPUs, e.g. 1.5 (period 100 ms)
  std::optional<unsigned> cpu_weight;   // 1..10000, default 100 (v1: cpu.shares = weight*1024/100)

  bool any() const {
    return memory_max || memory_high || swap_max || pids_max || cpus || cpu_weight;
  }
  bool needs_memory() const { return memory_max || memory_high || swap_max; }
  bool needs_pids() const { return pids_max.has_value(); }
  bool needs_cpu() const { return cpus || cpu_weight; }
};

// Checks ranges only (no system access): an Error-free empty string, or the sentence to show.
std::string validate(const Limits&);

enum class LimitsLevel { none, cgroup2, cgroup1 };
const char* to_string(LimitsLevel);

// What the controllers reported at the job's end. Each optional is absent where the kernel gives
// no figure (no limits: nothing here but what the v2 scope has).
struct LimitUsage {
  uint64_t oom_kills = 0;                     // memory.events / memory.oom_control oom_kill
  std::optional<uint64_t> peak_memory_bytes;  // memory.peak / memory.max_usage_in_bytes
  std::optional<uint64_t> peak_processes;     // pids.peak
  std::optional<uint64_t> pids_refused;       // pids.events max: forks refused by pids.max
  std::optional<std::chrono::microseconds> cpu_throttled;  // cpu.stat throttled_usec / _time
};

// Per controller: can a limit be set here, and how. For `tend doctor` and for error messages.
struct ControllerSupport {
  std::string name;  // memory, pids, cpu
  LimitsLevel level = LimitsLevel::none;
  std::string where;    // the v2 parent or the v1 hierarchy directory jobs would go under
  std::string why_not;  // level none: a sentence a user can act on
};

struct LimitsProbeOptions {
  std::string cgroup_parent;   // as ScopeOptions::cgroup_parent
  std::string cgroup_v1_root;  // as ScopeOptions::cgroup_v1_root
  std::optional<LimitsLevel> level;
};
// Looks, changes nothing (no delegation move, no mkdir).
std::vector<ControllerSupport> probe_limits(const LimitsProbeOptions& = {});

// For a supervisor of many jobs (the agent): does now what the first limited job would do. With
// cgroup2, this process moves into its leaf and the controllers (those `limits` needs; none given:
// every one cgroup v2 has here) are enabled for its cgroup's children, so processes it starts
// later (per-job shims) start in the leaf and their jobs' cgroups go beside it. With cgroup1,
// nothing to do. Fails, like Scope::create, when a controller `limits` needs cannot be had.
struct ScopeOptions;
Expected<void> prepare_limits(const ScopeOptions& opts);

// The process limit a supervisor of other people's jobs applies when it is given none: 15 % of
// the threads the system can have (the smaller of kernel.threads-max and kernel.pid_max), as
// systemd's DefaultTasksMax. A fork bomb then fills its job, not the machine. nullopt when
// neither figure can be read.
std::optional<uint64_t> default_tasks_max();

// A job's scope now, read by any process (the agent reads the cgroups its per-job supervisors
// made). Each optional is absent where no controller counts it here.
struct ScopeFigures {
  std::optional<uint64_t> memory_bytes;  // memory.current / memory.usage_in_bytes
  std::optional<uint64_t> processes;     // pids.current, else the v2 cgroup's members
  std::optional<std::chrono::microseconds> cpu_user, cpu_system;  // since the scope began
};
// From the job's cgroup v2 directory `cgroup_path` and, for what v2 does not count on this
// host, the cgroup v1 groups of the same name (where `opts` says the hierarchies are, as a
// limited scope made them). A path that is gone gives empty figures.
ScopeFigures read_scope_figures(const std::string& cgroup_path,
                                const LimitsProbeOptions& opts = {});

}  // namespace tend
