// Job: a Command plus everything it ever starts, run in its own Scope on a Loop.
//
// A job is over when its main process has exited AND its scope is empty. Every wait is bounded
// by the timeout (when set) and the StopPolicy's grace; the StopPolicy returns the moment the
// scope is empty, never after a fixed sleep.
#pragma once

#include <signal.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string_view>

#include "tend/child.hpp"
#include "tend/command.hpp"
#include "tend/loop.hpp"
#include "tend/output.hpp"
#include "tend/result.hpp"
#include "tend/scope.hpp"

namespace tend {

// How to stop a job: `signal` to every process in the scope, then SIGKILL for the whole scope
// once `grace` has passed with anything still alive.
struct StopPolicy {
  int signal = SIGTERM;
  std::chrono::milliseconds grace{10'000};
};

// What happens when the main process exits while other processes remain in the scope.
enum class OrphanPolicy {
  kill,   // apply the StopPolicy to them (default)
  wait,   // the job lasts until the scope is empty (still bounded by the timeout)
  leave,  // end the job now and leave them running (reported in Result::leftovers_left)
};
const char* to_string(OrphanPolicy);
// "kill", "wait" or "leave" (what to_string writes); the Error's detail says what was expected.
Expected<OrphanPolicy> parse_orphan_policy(std::string_view text);

struct JobOptions {
  std::chrono::milliseconds timeout{0};  // 0: none
  StopPolicy stop;
  OrphanPolicy orphans = OrphanPolicy::kill;
  ScopeOptions scope;
  // Where Stdio::capture streams go. Null: an OutputCapture with `limits`, owned by the Job.
  OutputSink* output = nullptr;
  OutputLimits limits;
  // A guard process ends the job if this process dies without ending it (SIGKILL, a crash):
  // the job never outlives its supervisor by more than the guard's wake-up. One guard per process.
  bool guard = true;
};

namespace detail {
class SupervisorGuard;
}

class Job {
 public:
  using Callback = std::function<void(const Result&)>;

  // Creates the scope, spawns the main process in it and registers everything on `loop`.
  // A spawn failure (exec error included) is not an Error here: the job starts already done
  // with Result::reason == spawn_failed. An Error means tend itself failed (no scope, no fds).
  static Expected<std::unique_ptr<Job>> start(Loop& loop, const Command& cmd, JobOptions opts,
                                              Callback on_done = {});
  ~Job();

  // Cancels the job: the StopPolicy, with `sig` instead of its signal if nonzero. Idempotent.
  void stop(int sig = 0);
  // Sends `sig` to the main process only (signal forwarding).
  Expected<void> signal_main(int sig);
  // Sends `sig` to every process in the scope; how many were signalled.
  int signal_all(int sig);

  bool done() const { return done_; }
  const Result& result() const { return result_; }
  pid_t pid() const { return child_.pid(); }
  const Scope* scope() const { return scope_.get(); }
  // The internal capture when JobOptions::output was null; else null.
  const OutputCapture* capture() const { return own_capture_.get(); }

 private:
  Job(Loop& loop, JobOptions opts, Callback cb);
  void on_main_exit();
  void on_scope_change();
  void on_readable(int n);
  bool read_pipe(int n, int max_reads);
  void on_timeout();
  void begin_stop(int sig, EndReason why);
  void on_grace_expired();
  void maybe_finish();
  void finish();
  void drain_pipes();
  void close_pipe(int n);
  void arm_session_poll();
  void note_leftovers();
  void note_limit_usage();

  Loop& loop_;
  JobOptions opts_;
  Callback on_done_;
  std::unique_ptr<Scope> scope_;
  std::unique_ptr<detail::SupervisorGuard> guard_;  // before child_: ends the job if we die
  Child child_;
  std::unique_ptr<OutputCapture> own_capture_;
  OutputSink* sink_ = nullptr;
  bool main_exited_ = false;
  bool stopping_ = false;
  bool killed_ = false;
  bool done_ = false;
  bool leave_ = false;
  Loop::TimerId timeout_timer_ = 0, grace_timer_ = 0, poll_timer_ = 0;
  Loop::Clock::time_point started_mono_;
  std::set<pid_t> leftovers_;  // processes other than the main one the stop had to reach
  Result result_;
};

// Runs `cmd` to completion on a private Loop. Convenience for programs that run one job.
Expected<Result> run(const Command& cmd, JobOptions opts = {});

}  // namespace tend
