// Scheduler: starts each job's shim (`tend agent-shim JOBDIR`), watches the shims' pidfds on
// one tend::Loop in its own thread, and records every transition in the Store. All job state
// transitions after submission happen on that thread; other threads post requests to it.
//
// Durability: shims run in their own sessions and write their Result to the job's directory, so
// when the agent restarts, recover() re-attaches to the shims still running (found in /proc by
// their command line, then pinned by a pidfd), finishes the jobs whose shim has exited from the
// result it left, and declares the rest `lost` after killing whatever is left of them. No job
// stays `running`.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/metrics.hpp"
#include "server/retention.hpp"
#include "server/store.hpp"
#include "shim/job_dir.hpp"
#include "tend/child.hpp"
#include "tend/fd.hpp"
#include "tend/loop.hpp"

namespace tend::agent {

struct SchedulerOptions {
  std::string jobs_dir;  // DATA/jobs
  std::string self_exe;  // the tend binary, for `tend agent-shim`
  int max_running = 2;
  uint64_t output_limit = 64ull << 20;  // per job: head + tail kept on disk
  RetentionPolicy retention;
  // Passed to every job in its spec: what it inherits from the agent's environment (locale,
  // TZ, --pass-env) and the umask the agent was started with (the agent itself runs with 077).
  std::map<std::string, std::string> job_env;
  mode_t job_umask = 022;
  // Part of every job cgroup's name (job_cgroup_name): a fleet agent's fleet id, else empty.
  std::string cgroup_tag;
  // Orphans re-parented to this process (PID 1 in a container) are reaped from this signalfd
  // (SIGCHLD, blocked in every thread). Invalid: none are expected.
  UniqueFd sigchld_fd;
  // Called on the scheduler's thread after each job record it wrote (a transition): the fleet
  // member reports runs from it. Must be quick and thread-safe.
  std::function<void(const std::string& id)> on_recorded;
};

class Scheduler {
 public:
  enum class CancelOutcome { accepted, already_finished, unknown, unavailable };
  enum class RemoveOutcome { removed, still_running, unknown, unavailable, failed };

  static Expected<std::unique_ptr<Scheduler>> create(Store& store, Metrics& metrics,
                                                     SchedulerOptions opts);
  ~Scheduler();  // stops the thread; shims keep running (they are durable)

  // Recovers the jobs of a previous run, then starts the thread.
  Expected<void> start();
  // A job was queued: start it when a slot is free.
  void kick();
  // Cancels a queued job at once, or asks a running job's shim to stop it. `unavailable` when
  // the scheduler's thread is gone or does not answer within a few seconds.
  CancelOutcome cancel(const std::string& id);
  // Why the scheduler can no longer start or watch jobs (its event loop failed); nullopt while
  // it works. The API then refuses new jobs with 503 and /healthz says so.
  std::optional<std::string> broken() const;
  // Removes a finished job (record, then directory). `failed`: the error is in `why`.
  RemoveOutcome remove(const std::string& id, std::string& why);
  // Why job records cannot be written now (a full disk, a failing database): results wait in
  // memory and are retried every second. nullopt while every write succeeds.
  std::optional<std::string> degraded() const;
  JobDir job_dir(const std::string& id) const { return JobDir{opts_.jobs_dir + "/" + id}; }
  // Where a job's shim makes its cgroup (by name, job_cgroup_name); empty at the session level.
  // Any thread: fixed once created.
  std::string job_cgroup(const std::string& id) const;

 private:
  struct Running {
    Child child;     // a shim we spawned (reaped through its pidfd) ...
    UniqueFd pidfd;  // ... or one we re-attached to after a restart
    int fd() const { return child.valid() ? child.pidfd() : pidfd.get(); }
  };

  Scheduler(Store& store, Metrics& metrics, SchedulerOptions opts, Loop loop, UniqueFd wake)
      : store_(store),
        metrics_(metrics),
        opts_(std::move(opts)),
        loop_(std::move(loop)),
        wake_(std::move(wake)) {}
  void post(std::function<void()> fn);
  void run_posted();
  void thread_main();
  void recover();
  void schedule();
  void start_job(JobRecord rec);
  void fail_to_start(JobRecord& rec, const Error& e);
  void watch(const std::string& id, Running r);
  void on_shim_exit(const std::string& id);
  // The shim is gone: record its result, or `lost` (`cancelled` if asked) after cleaning up.
  void finish_from_disk(JobRecord& rec, const std::string& why_no_result);
  void on_sigchld();
  // Writes `rec`; on failure keeps it for retry_writes() and marks the agent degraded.
  bool record(const JobRecord& rec);
  void retry_writes();
  // A record could not be written: degraded, and a retry in a second.
  void write_failed(const Error& e);
  void set_degraded(std::optional<std::string> why);
  // One batch of retention (`by_age`: also keep_for, which scans); a full batch asks for more.
  void retain(bool by_age);
  void retain_soon();
  void retain_every_second();

  Store& store_;
  Metrics& metrics_;
  SchedulerOptions opts_;
  std::string cgroup_parent_;  // where shims make job cgroups; empty at the session level
  Loop loop_;
  UniqueFd wake_;  // eventfd: posted work is waiting
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;
  std::map<std::string, Running> running_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex broken_mu_;
  std::optional<std::string> broken_;
  std::optional<std::string> degraded_;
  // Records whose write failed, newest version per job: retried until the store takes them.
  std::map<std::string, JobRecord> unwritten_;
  bool retry_armed_ = false;
  bool write_failing_ = false;
  bool retain_armed_ = false;
  std::thread thread_;
};

}  // namespace tend::agent
