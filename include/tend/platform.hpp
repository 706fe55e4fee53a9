// What the kernel offers, for `tend doctor` and for the levels libtend chooses.
#pragma once

#include <string>
#include <vector>

#include "tend/child.hpp"
#include "tend/limits.hpp"
#include "tend/scope.hpp"

namespace tend {

struct Platform {
  std::string kernel;   // uname -r
  bool clone3 = false;  // clone3 answered (not ENOSYS/EPERM)
  bool clone_into_cgroup = false;
  bool pidfd = false;  // pidfd_open works
  bool pidfd_send_signal = false;
  bool close_range = false;
  bool subreaper = false;  // PR_SET_CHILD_SUBREAPER accepted
  CgroupSupport cgroup;
  SpawnLevel spawn_level = SpawnLevel::clone_pidfd;
  ScopeLevel scope_level = ScopeLevel::session;
  std::vector<ControllerSupport> limits;  // memory, pids, cpu: whether and how limits work
};

// Probes each feature with a harmless call. Makes (and removes) one empty test cgroup.
Platform probe_platform();

}  // namespace tend
