#include "server/shim_processes.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "tend/process.hpp"
#include "tend/scope.hpp"

namespace tend::agent {

using namespace std::chrono_literals;

std::map<std::string, FoundShim> find_shims(const std::string& jobs_dir) {
  std::map<std::string, FoundShim> out;
  const std::string prefix = jobs_dir + "/";
  // The job id if `pid` runs `tend agent-shim JOBS_DIR/ID`.
  auto job_of = [&](pid_t pid) -> std::optional<std::string> {
    auto argv = process_cmdline(pid);
    if (!argv || argv->size() != 3 || (*argv)[1] != "agent-shim" || (*argv)[2].empty())
      return std::nullopt;
    std::string dir = (*argv)[2];
    if (dir[0] != '/') {
      // Agents before this one passed --data as given (./tend-data by default): such a shim's
      // path is relative to its own working directory. Resolving it lets an upgraded agent
      // re-attach to the jobs its predecessor started.
      std::unique_ptr<char, decltype(&std::free)> real(
          ::realpath(("/proc/" + std::to_string(pid) + "/cwd/" + dir).c_str(), nullptr),
          &std::free);
      if (!real) return std::nullopt;
      dir = real.get();
    }
    if (dir.rfind(prefix, 0) != 0) return std::nullopt;
    std::string id = dir.substr(prefix.size());
    if (id.empty() || id.find('/') != std::string::npos) return std::nullopt;
    return id;
  };
  std::map<pid_t, std::pair<ProcessInfo, std::string>> candidates;
  for (const ProcessInfo& proc : list_processes()) {
    // A shim's guard has its command line (a fork) and may outlive it by a wake-up.
    if (proc.name == kGuardProcessName) continue;
    if (auto id = job_of(proc.pid)) candidates.emplace(proc.pid, std::make_pair(proc, *id));
  }
  for (const auto& [pid, candidate] : candidates) {
    const auto& [proc, listed_id] = candidate;
    // A shim starting its job has a child that shares its memory until it execs (CLONE_VFORK):
    // same command line, same directory. That child is not the shim.
    if (auto parent = candidates.find(proc.ppid);
        parent != candidates.end() && parent->second.second == listed_id)
      continue;
    // Pin first, then look again: if the process is still the one listed after the second look,
    // the pid was not recycled in between, so the command line read is the pinned process's.
    auto pidfd = open_pidfd(proc.pid);
    if (!pidfd) continue;
    auto id = job_of(proc.pid);
    if (!id || !signal_process(proc, 0)) continue;
    out[*id] = FoundShim{proc.pid, std::move(*pidfd)};
  }
  return out;
}

int kill_cgroup(const std::string& cgroup_dir) {
  auto scope = Scope::attach(cgroup_dir);
  if (!scope) return 0;  // gone already, or not a cgroup: nothing of the job's is in it
  int seen = static_cast<int>((*scope)->pids().size());
  (void)(*scope)->kill_all();
  // Killed processes leave the cgroup within milliseconds; past the bound, release() fails and
  // the directory stays for the next attempt (an empty one costs nothing).
  (void)(*scope)->wait_empty(5s);
  (void)(*scope)->release();
  return seen;
}

int kill_session(pid_t sid, const std::string& job_id) {
  // A process that called setsid left the session; the environment the shim gave every job
  // process usually still names the job (a process can change it: the fallback's limit).
  const std::string marker = "TEND_JOB_ID=" + job_id;
  auto belongs = [&](const ProcessInfo& proc) {
    if (sid > 1 && proc.sid == sid) return true;
    if (job_id.empty()) return false;
    auto env = process_environ(proc.pid);
    return env && std::find(env->begin(), env->end(), marker) != env->end();
  };
  const pid_t self = ::getpid();
  std::set<pid_t> killed;
  for (int pass = 0; pass < 50; ++pass) {
    bool found = false;
    for (const ProcessInfo& proc : list_processes()) {
      // A zombie is dead already; it waits for its parent, not for another signal.
      if (proc.pid == self || proc.state == 'Z' || !belongs(proc)) continue;
      found = true;
      if (signal_process(proc, SIGKILL)) killed.insert(proc.pid);
    }
    if (!found) break;
    std::this_thread::sleep_for(10ms);
  }
  return static_cast<int>(killed.size());
}

}  // namespace tend::agent
