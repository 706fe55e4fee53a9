// Internal: the two Scope levels.
#pragma once

#include <map>
#include <set>

#include "tend/scope.hpp"

namespace tend::detail {

Expected<std::unique_ptr<Scope>> make_cgroup_scope(const ScopeOptions& opts,
                                                   const CgroupSupport& cg);
Expected<std::unique_ptr<Scope>> make_session_scope(const ScopeOptions& opts);

}  // namespace tend::detail
