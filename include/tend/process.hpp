// The process table: what /proc says about any process, including ones this program did not start
// (a previous run's supervisors, the leftovers of a job whose supervisor died).
//
// A PID alone names a process only until it exits: PIDs are recycled. (pid, start_time) is an
// identity; `signal_process` and `open_pidfd` are the ways to act on exactly the process looked at.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tend/error.hpp"
#include "tend/fd.hpp"

namespace tend {

// One line of /proc/PID/stat, the fields a supervisor needs.
struct ProcessInfo {
  pid_t pid;
  pid_t ppid;
  pid_t pgid;
  pid_t sid;
  char state;                     // R, S, D, Z (zombie), T, ... as in proc(5)
  unsigned long long start_time;  // clock ticks since boot: with the pid, an identity
  char name[16];  // the kernel's name for it (comm, NUL-terminated): argv[0]'s base or prctl's
};

// The name every supervisor guard process gives itself (see JobOptions::guard). A guard is a fork
// of its supervisor: the same command line, so only this name tells the two apart.
inline constexpr std::string_view kGuardProcessName = "tend-guard";

// nullopt once the process is gone (or /proc is not mounted).
std::optional<ProcessInfo> read_process(pid_t pid);
// Every process visible in /proc now, zombies included.
std::vector<ProcessInfo> list_processes();

// argv and environment as the process holds them (/proc/PID/cmdline, /proc/PID/environ, split at
// NUL). nullopt if the process is gone or not ours to read; empty for a zombie or a kernel thread.
// The environment is the one it was started with: a process can overwrite that memory.
std::optional<std::vector<std::string>> process_cmdline(pid_t pid);
std::optional<std::vector<std::string>> process_environ(pid_t pid);

// Pins the process `pid` names now: signals and waits through the fd reach that process even
// after its PID is recycled, and the fd is readable (EPOLLIN) once it exits. ESRCH if none.
Expected<UniqueFd> open_pidfd(pid_t pid);

// Sends `sig` to `process` if its PID still names that process (same start time), pinned by a
// pidfd between the check and the signal. Returns whether it was sent; sig 0 only checks that
// the process is still there (a zombie still is).
bool signal_process(const ProcessInfo& process, int sig);

// The PIDs in a list as the kernel writes them: one per line (cgroup.procs) or separated by spaces
// (/proc/PID/task/TID/children). Anything that is not a digit separates.
std::vector<pid_t> parse_pid_list(std::string_view text);

// `name` in the directory of this program's executable (/proc/self/exe): the way to find a
// program installed beside this one ("tend-agent" beside "tend"). An Error if /proc cannot say.
Expected<std::string> sibling_executable(std::string_view name);

}  // namespace tend
