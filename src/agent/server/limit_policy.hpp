// The agent's resource limits for jobs. One value per limit (--job-memory, --job-pids,
// --job-cpu) is both the default and the ceiling: a job that names none gets it, a job may ask
// for less, a request above it is refused. Without --job-pids every job still gets a process
// limit (tend::default_tasks_max(), systemd's DefaultTasksMax) so that a fork bomb fills its
// job, not the machine. What this host can enforce is probed once, at start.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tend/error.hpp"
#include "tend/limits.hpp"

namespace tend::agent {

struct LimitPolicy {
  Limits jobs;  // the defaults and ceilings
  std::vector<ControllerSupport> support;

  // Fills in the defaults and checks `l` against the ceilings and this host; an error names the
  // field ("limits.memory") and says why. Changes `l` only when it succeeds.
  Expected<void> apply(Limits& l) const;
  // "memory 256 MiB, pids 4915" for the log; "none" when jobs get no limit by default.
  std::string describe() const;
  // The controller's support entry; level none when it was not probed.
  ControllerSupport controller(const std::string& name) const;
};

// The flags as given (empty: not given), checked without looking at the host: the defaults and
// ceilings, and whether jobs get the default process limit (no --job-pids). An error names the
// flag.
struct LimitFlags {
  std::string memory, pids, cpu;
};
struct JobLimitOptions {
  Limits jobs;
  bool default_pids = true;  // no --job-pids: default_tasks_max()
};
Expected<JobLimitOptions> parse_limit_flags(const LimitFlags& flags);

// Prepares this process for limits (cgroup v2 delegation: the agent moves into its leaf, so the
// shims it starts and their jobs' cgroups go beside it), probes the controllers, and adds the
// default process limit. A flag this host cannot enforce is an error naming it; `notes` gets
// what a person should read in the log (a default that cannot be applied here, and why).
Expected<LimitPolicy> make_limit_policy(const JobLimitOptions& o, std::vector<std::string>& notes);

}  // namespace tend::agent
