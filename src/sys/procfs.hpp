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
