// Harness for black-box scenarios: runs the built `tend` the way an agent capturing its output
// would (stdout+stderr on one pipe, read until EOF), under a hard safety timeout that kills and
// fails instead of hanging the suite, and finds leftover processes by a marker in their
// environment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "proc_walk.hpp"
#include "require.hpp"
#include "temp_dir.hpp"

namespace scenario {

using Clock = std::chrono::steady_clock;

struct RunResult {
  int exit_code = -1;     // tend's exit status; 128+N if tend itself died of signal N
  bool finished = false;  // false: the safety timeout fired (the harness killed everything)
  std::string output;     // stdout and stderr, merged, in order
  double elapsed_s = 0;   // start until tend exited AND the pipe reached EOF
  double exit_s = 0;      // start until tend exited
};

// A running `tend` (argv after the binary name), with a unique marker in its environment that
// every process of the job inherits.
class TendProcess {
 public:
  struct Options {
    std::vector<std::string> env;           // extra KEY=VALUE entries
    std::optional<std::string> stdin_data;  // piped to tend, then closed; nullopt: /dev/null
    std::string cwd;                        // empty: the test's own
    // tend's inherited signal setup (as `nohup`, `trap '' PIPE` or a blocking caller leave it).
    std::vector<int> ignored_signals;
    std::vector<int> blocked_signals;
    // argv[0] for tend: empty is the binary's path; "timeout" or "tini" for the multi-call roles.
    std::string argv0;
  };

  TendProcess(const std::vector<std::string>& args, const std::string& marker, Options opts);
  TendProcess(const TendProcess&) = delete;
  TendProcess& operator=(const TendProcess&) = delete;
  // Kills tend and every marked process if finish() was not called.
  ~TendProcess();

  pid_t pid() const { return pid_; }
  // Reads output until it contains `needle`; false at the deadline (the output so far is kept).
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds within);
  const std::string& output_so_far() const { return output_; }
  // Reads until EOF and waits for tend, at most `safety`; then kills everything and fails.
  RunResult finish(std::chrono::milliseconds safety = std::chrono::seconds(20));

 private:
  // One poll+read step; returns false once the pipe is at EOF.
  bool pump(int timeout_ms);
  bool try_reap();

  std::string marker_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool eof_ = false;
  std::optional<int> status_;
  std::string output_;
  Clock::time_point started_;
  std::optional<Clock::time_point> exited_at_;
};

// Runs `tend ARGS...` to completion; see TendProcess.
RunResult run_tend(const std::vector<std::string>& args, const std::string& marker,
                   TendProcess::Options opts = {},
                   std::chrono::milliseconds safety = std::chrono::seconds(20));

// The /proc walk for marked processes and the temporary directories are tests/support's.
using tend::test::children_of;
using tend::test::count_marked;
using tend::test::kill_marked;
using tend::test::marked_pids;
using tend::test::wait_marked;
using tend::test::wait_one_marked_running;
inline std::string unique_marker() {
  return tend::test::new_marker();
}

// Whether `tend doctor` reports the cgroup level (probed once).
bool cgroup_level_available();

using tend::test::TempDir;

}  // namespace scenario
