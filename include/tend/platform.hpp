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
  bool waitid_pidfd = false;  // waitid(P_PIDFD) (5.4)
  bool close_range = false;
  bool subreaper = false;  // PR_SET_CHILD_SUBREAPER accepted
  CgroupSupport cgroup;
  SpawnLevel spawn_level = SpawnLevel::clone_pidfd;
  ScopeLevel scope_level = ScopeLevel::session;
  std::vector<ControllerSupport> limits;  // memory, pids, cpu: whether and how limits work
};

// Probes each feature with a harmless call. Makes (and removes) one empty test cgroup.
Platform probe_platform();

// The oldest kernel tend runs on: pidfds that poll (5.3). Everything newer has a fallback.
inline constexpr const char* kMinimumKernel = "5.3";

// A feature this kernel (or a seccomp filter) lacks: the kernel that brought it and what tend
// does without it.
struct MissingFeature {
  const char* name;
  const char* since;
  const char* instead;
};
std::vector<MissingFeature> missing_features(const Platform& p);

}  // namespace tend
