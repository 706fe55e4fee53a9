// Result: how a job ended, with its figures. Shared by `tend run`, `tend init` and the agent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "tend/child.hpp"
#include "tend/error.hpp"
#include "tend/scope.hpp"

namespace tend {

enum class EndReason {
  exited,        // the main process ended by itself (exit or signal)
  timed_out,     // the timeout fired and the StopPolicy ended the job
  cancelled,     // stop() was called (a signal to tend, a cancel request)
  spawn_failed,  // nothing ran: `error` says why (exec failures included)
};
const char* to_string(EndReason);

struct Result {
  EndReason reason = EndReason::exited;
  std::optional<ExitStatus> status;  // the main process; absent when spawn failed
  std::optional<Error> error;        // spawn_failed: which stage, errno, path
  int stop_signal = 0;               // the signal the StopPolicy sent (timed_out, cancelled)
  bool killed = false;               // the grace ran out: SIGKILL was needed

  std::chrono::system_clock::time_point started_at, finished_at;
  std::chrono::microseconds elapsed{0};  // monotonic, spawn to scope empty

  std::optional<std::chrono::microseconds> cpu_user, cpu_system;
  std::optional<uint64_t> peak_memory_bytes;

  // Limits (tend/limits.hpp): the mechanism in force, the memory limit, and what the
  // controllers saw. peak_memory_bytes is the whole scope's where a memory controller counts it.
  LimitsLevel limits_level = LimitsLevel::none;
  std::optional<uint64_t> memory_limit_bytes;
  bool oom_killed = false;  // the kernel's OOM killer killed a process of the job
  uint64_t oom_kills = 0;
  std::optional<uint64_t> peak_processes;
  std::optional<uint64_t> pids_refused;  // forks the process limit refused
  std::optional<std::chrono::microseconds> cpu_throttled;

  uint64_t stdout_bytes = 0, stderr_bytes = 0, output_dropped_bytes = 0;
  int leftovers_killed = 0;  // processes other than the main one that the job's end had to stop
  int leftovers_left = 0;    // OrphanPolicy::leave: processes left running

  pid_t pid = -1;
  ScopeLevel scope_level = ScopeLevel::cgroup;
  SpawnLevel spawn_level = SpawnLevel::clone3;

  // The exit status a CLI reports (see docs/semantics.md): N; 128+N; 124 / 137 on timeout
  // (the job's own with preserve_status); 128+N of the stop signal when cancelled;
  // 126 / 127 for exec failures; 125 for tend's own failures.
  int exit_code(bool preserve_status = false) const;
  // True when the OOM killer, not tend or anyone else we know of, ended the main process: it died
  // of SIGKILL that tend did not send, and the job's memory controller counted an OOM kill.
  bool main_oom_killed() const;
  // How the main process ended, for a person: "exited with 3", "killed by SIGTERM",
  // "out of memory (limit 64 MiB)". Empty when it never ran.
  std::string describe() const;
};

nlohmann::json to_json(const Result&);
// Parses what to_json wrote (the agent reads results that job supervisors wrote to disk).
Expected<Result> result_from_json(const nlohmann::json&);

}  // namespace tend
