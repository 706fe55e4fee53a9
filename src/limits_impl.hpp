// Internal: where limits can be had (probe, delegation) and the scope that enforces them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tend/limits.hpp"
#include "tend/scope.hpp"

namespace tend::detail {

// The leaf of its own cgroup a supervisor moves into before it enables controllers for its jobs'
// cgroups, which then sit beside it. probe_cgroup() treats the leaf's parent as "our cgroup".
inline constexpr const char* kSupervisorLeaf = "tend-supervisor";

// A number file (memory.peak) or a "key value" line of a flat-keyed file (memory.events).
std::optional<uint64_t> read_u64(const std::string& path);
std::optional<uint64_t> read_key(const std::string& path, std::string_view key);

// The controllers a Limits value needs, by their kernel names.
std::vector<std::string> needed_controllers(const Limits&);

// ScopeOptions::cgroup_v1_root, else $TEND_CGROUP_V1_ROOT, else "" (from mountinfo).
std::string v1_root_override(const std::string& opt);

// Where the v1 hierarchy with `controller` is and where job groups go: `dir` is this process's
// own group in it (or the hierarchy's top when `root_override` is set and that is missing).
struct V1Hierarchy {
  std::string dir;
  std::string why_not;  // dir empty: why
};
V1Hierarchy find_v1_hierarchy(const std::string& controller, const std::string& root_override);

// Enables `controllers` in `parent`'s cgroup.subtree_control. When the kernel refuses because
// `parent` holds processes and the only one is this process (parent_is_own), moves this process
// into `parent`/tend-supervisor first. Says which controller could not be enabled and why.
Expected<void> delegate_v2(const std::string& parent, bool parent_is_own,
                           const std::vector<std::string>& controllers);

// Per controller, which mechanism applies (probe only, changes nothing).
std::vector<ControllerSupport> probe_controllers(const std::vector<std::string>& controllers,
                                                 const LimitsProbeOptions& opts);

// The chosen level for `opts.limits`, or an Error naming every controller that cannot be had.
Expected<LimitsLevel> choose_limits_level(const ScopeOptions& opts);

// A scope with opts.limits in force (opts.limits.any() must hold).
Expected<std::unique_ptr<Scope>> make_limited_scope(const ScopeOptions& opts);

}  // namespace tend::detail
