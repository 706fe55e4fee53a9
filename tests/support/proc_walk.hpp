// The tests' own walk of the process table (plain reads of /proc, independent of the library
// under test): a test puts TEND_TEST_MARKER=<marker> in the environment of what it starts, and
// finds, counts and kills whatever of it is still there.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tend::test {

// A marker unique to the running test and call: "<Suite.Test>-<pid>-<n>".
std::string new_marker();
// "TEND_TEST_MARKER=<marker>", the environment entry every process of a test inherits.
std::string marker_entry(const std::string& marker);

// The fields of /proc/PID/stat a test looks at.
struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';  // R, S, D, Z (zombie), T, ...
};
std::optional<ProcStat> read_stat(pid_t pid);
// Every process /proc lists now.
std::vector<ProcStat> all_processes();
// Every process below `root` (not `root` itself), zombies included.
std::vector<ProcStat> descendants(pid_t root);
// Direct children of `parent` that are not zombies.
std::vector<pid_t> children_of(pid_t parent);

// The PIDs /proc lists now for which `pred(pid, "/proc/PID")` holds.
std::vector<pid_t> processes_where(const std::function<bool(pid_t, const std::string&)>& pred);
// Live processes (not this one) whose environment holds TEND_TEST_MARKER=<marker>. A zombie has
// an empty environ: it is dead and not counted.
std::vector<pid_t> marked_pids(const std::string& marker);
// The kernel's name for the process (/proc/PID/comm without its newline; "" once it is gone).
std::string comm_of(pid_t pid);
// True if the process has the name every supervisor guard gives itself (tend::kGuardProcessName).
bool named_tend_guard(pid_t pid);
// True for a supervisor's guard process (a fork of tend outside the job's scope, named
// "tend-guard", that kills the job if tend dies): it carries tend's marker but is not the job's.
// Also true in the instant before it renames itself: a fork of `tend` that has not exec'd.
bool is_tend_guard(pid_t pid);
// How many marked processes are alive, allowing `settle` for ones that are already dying; the
// most seen over a few sweeps after that (a leak check must not pass on one lucky sweep: a
// process in the middle of an exec shows an empty environ for an instant).
int count_marked(const std::string& marker,
                 std::chrono::milliseconds settle = std::chrono::milliseconds(500));
// Waits until exactly `n` marked processes are alive.
bool wait_marked(const std::string& marker, int n, std::chrono::milliseconds within);
// Waits until exactly one marked process is alive and it runs `comm` (its kernel name, e.g.
// "sleep"): a process that execs on its way there (sh's fork -> setsid -> sleep) reads as
// unmarked mid-execve, so a count taken before it settles may miss it.
bool wait_one_marked_running(const std::string& marker, const std::string& comm,
                             std::chrono::milliseconds within);
// SIGKILLs every marked process, again while new ones appear (cleanup, so a failing test does
// not poison the next), until none is seen 3 looks in a row or 30 s have passed. Returns how
// many it killed.
int kill_marked(const std::string& marker);

// The whole file as text ("" if it cannot be read).
std::string read_text(const std::string& path);
// Polls `condition` every few milliseconds until it holds or `within` has passed.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds within);

}  // namespace tend::test
