// What the agent needs to know about processes it did not start (a shim after an agent
// restart) and how it cleans up after a shim that died without finishing its job.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "tend/error.hpp"
#include "tend/fd.hpp"

namespace tend::agent {

// Field 22 of /proc/PID/stat (start time in clock ticks since boot): with the pid, it names a
// process uniquely, so a recycled pid is never mistaken for our shim.
std::optional<uint64_t> process_start_time(pid_t pid);
// A pidfd for `pid` if it is still the process that started at `start_time`; invalid otherwise.
UniqueFd open_if_same_process(pid_t pid, uint64_t start_time);
// SIGKILLs every process in a cgroup (cgroup.kill) and waits (bounded) until it is empty, then
// removes the directory. Returns how many processes it saw in it.
int kill_cgroup(const std::string& cgroup_dir);
// SIGKILLs every process whose session id is `sid` (the session-level fallback). Repeats until a
// sweep finds none (bounded). Returns how many it killed.
int kill_session(pid_t sid);

}  // namespace tend::agent
