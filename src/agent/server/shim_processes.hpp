// The processes of the agent's shims, seen from outside: the shims still running after the agent
// restarts, and what a shim that died without finishing its job left behind. The agent-specific
// part only (the shim's command line, the TEND_JOB_ID marker); libtend reads /proc and cgroups.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "tend/fd.hpp"

namespace tend::agent {

struct FoundShim {
  pid_t pid = -1;
  UniqueFd pidfd;
};
// The shims alive now that supervise jobs under `jobs_dir` (an absolute path), by job id: the
// processes whose command line is `tend agent-shim JOBS_DIR/ID`, each pinned by a pidfd.
std::map<std::string, FoundShim> find_shims(const std::string& jobs_dir);
// SIGKILLs every process in a job's cgroup, waits (bounded) until it is empty, then removes the
// directory. Returns how many processes it saw in it (0 if it is no cgroup, or gone).
int kill_cgroup(const std::string& cgroup_dir);
// The session-level fallback: SIGKILLs every process whose session id is `sid` or whose
// environment has TEND_JOB_ID=`job_id` (processes that left the session with setsid). Repeats
// until a sweep finds none (bounded). Returns how many it killed.
int kill_session(pid_t sid, const std::string& job_id);

}  // namespace tend::agent
