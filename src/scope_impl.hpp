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

Expected<std::unique_ptr<Scope>> make_cgroup_scope(const ScopeOptions& opts,
                                                   const CgroupSupport& cg);
Expected<std::unique_ptr<Scope>> make_session_scope(const ScopeOptions& opts);

}  // namespace tend::detail
