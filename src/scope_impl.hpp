// Internal: the two Scope levels.
#pragma once

#include <functional>
#include <map>
#include <set>

#include "tend/scope.hpp"

namespace tend::detail {

// Sends `sig` to `pid` if `is_member()` holds for it. The PID is pinned with a pidfd first, so
// the check and the signal concern the same process even if the PID is recycled meanwhile. Where
// pidfd_open is refused (seccomp: ENOSYS/EPERM) it falls back to kill(2) right after the check:
// a window of microseconds for a recycled PID, the best the kernel then allows.
bool signal_member(pid_t pid, int sig, const std::function<bool()>& is_member);

// Job cgroups (v2 scopes, v1 limit groups) whose supervisor died (SIGKILL, power loss) are never
// removed by it: removes the `tend-*` directories under `parent` that `is_empty` and were made
// long ago. A scope being set up right now is young; rmdir refuses a populated one anyway.
void remove_stale_groups(const std::string& parent,
                         const std::function<bool(const std::string&)>& is_empty);

// Scope::create keeps the probe of this process's own cgroup (scope.cpp); forgets it (tests).
void forget_own_cgroup();

Expected<std::unique_ptr<Scope>> make_cgroup_scope(const ScopeOptions& opts,
                                                   const CgroupSupport& cg);
Expected<std::unique_ptr<Scope>> make_session_scope(const ScopeOptions& opts);

}  // namespace tend::detail
