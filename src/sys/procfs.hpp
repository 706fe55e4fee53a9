// Reading /proc and cgroupfs: where cgroup v2 is mounted, which cgroup we are in, and the process
// table (for the session-level scope and for tend/process.hpp).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "tend/error.hpp"
#include "tend/process.hpp"

namespace tend::sys {

// A cgroup or cgroup2 line of /proc/self/mountinfo.
struct CgroupMount {
  bool v2 = false;
  std::string root;        // the cgroup the mount shows as its top, usually "/"
  std::string mountpoint;  // e.g. /sys/fs/cgroup/memory
  std::vector<std::string> options;  // super options: v1 lists its controllers here
};
std::vector<CgroupMount> cgroup_mounts();
// This process's cgroup in the v1 hierarchy that has `controller` (relative to that hierarchy's
// root), from /proc/self/cgroup; nullopt if no v1 hierarchy has it.
std::optional<std::string> own_cgroup_v1(const std::string& controller);

// The cgroup2 mount point from /proc/self/mountinfo ("" if none), e.g. "/sys/fs/cgroup/unified"
// on a hybrid host.
std::string cgroup2_mount();
// This process's cgroup v2 path relative to the mount ("/" for the root), from /proc/self/cgroup.
std::optional<std::string> own_cgroup_v2();

using ProcInfo = ProcessInfo;
// Parses /proc/PID/stat (the comm field may hold spaces and parentheses).
std::optional<ProcInfo> read_proc(pid_t pid);
// Every process visible in /proc.
std::vector<ProcInfo> list_processes();
// /proc/PID/`file` (cmdline, environ) split at its NUL separators; nullopt if it cannot be read.
std::optional<std::vector<std::string>> read_proc_strings(pid_t pid, const char* file);

}  // namespace tend::sys
