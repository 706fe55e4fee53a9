// Internal: a small per-process pool of emptied job cgroups, so that a job does not pay the
// kernel's mkdir + rmdir of a cgroup (most of a whole Job's cost over a raw spawn).
//
// Only a cgroup that is provably empty and limit-free goes back: `populated 0` (no process in it
// or below), no child cgroup, no controller enabled for it (so no limit file exists at all: a
// cgroup with limits is never reused, it is removed). Taking one re-reads `cgroup.events`
// (failing with ENODEV if someone removed it meanwhile). Its cpu.stat keeps counting across
// jobs, so the figures at return are kept and a job's are differences from them.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tend/fd.hpp"

namespace tend::detail {

struct PooledCgroup {
  std::string parent;    // the directory it is in (pooled cgroups are only reused there)
  std::string path;      // absolute
  std::string relative;  // as /proc/PID/cgroup shows it
  UniqueFd dir, procs, events;
  bool has_kill = false;
  std::chrono::microseconds user{0}, system{0};  // cpu.stat when it came back
};

// False when the pool is full (or disabled by TEND_CGROUP_POOL=0): the caller removes it.
bool pool_put(PooledCgroup&& c);
std::optional<PooledCgroup> pool_take(const std::string& parent);

}  // namespace tend::detail
