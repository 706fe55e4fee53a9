// Reading /proc and cgroupfs: where cgroup v2 is mounted, which cgroup we are in, and a snapshot
// of the process table for the session-level scope.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "tend/error.hpp"

namespace tend::sys {

// The cgroup2 mount point from /proc/self/mountinfo ("" if none), e.g. "/sys/fs/cgroup/unified"
// on a hybrid host.
std::string cgroup2_mount();
// This process's cgroup v2 path relative to the mount ("/" for the root), from /proc/self/cgroup.
std::optional<std::string> own_cgroup_v2();

struct ProcInfo {
  pid_t pid;
  pid_t ppid;
  pid_t pgid;
  pid_t sid;
  char state;                     // R, S, D, Z, T, ...
  unsigned long long start_time;  // clock ticks since boot (field 22): with the pid, an identity
};
// Parses /proc/PID/stat (the comm field may hold spaces and parentheses).
std::optional<ProcInfo> read_proc(pid_t pid);
// Every process visible in /proc.
std::vector<ProcInfo> list_processes();

}  // namespace tend::sys
