#include "server/scheduler.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
// glibc 2.36's <sys/pidfd.h> lacks the C linkage block (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>

#include "server/clock.hpp"
#include "server/shim_processes.hpp"
#include "shim/files.hpp"
#include "tend/reaper.hpp"
#include "tend/result.hpp"

namespace tend::agent {

namespace {

using json = nlohmann::json;

void log_error(const std::string& what, const Error& e) {
  std::fprintf(stderr, "tend agent: %s: %s\n", what.c_str(), e.message().c_str());
}

// Fills the record's outcome from the Result its shim wrote.
void apply_result(JobRecord& rec, const Result& r) {
  switch (r.reason) {
    case EndReason::exited:
      rec.state = r.status && r.status->exited() && r.status->value == 0 ? JobState::succeeded
                                                                         : JobState::failed;
      break;
    case EndReason::timed_out:
      rec.state = JobState::timed_out;
      break;
    case EndReason::cancelled:
      rec.state = JobState::cancelled;
      break;
    case EndReason::spawn_failed:
      rec.state = JobState::failed;
      break;
  }
  rec.exit_code.reset();
  rec.signal.reset();
  if (r.status) {
    if (r.status->exited())
      rec.exit_code = r.status->value;
    else
      rec.signal = r.status->value;
  }
  rec.exit_status = r.exit_code();
  if (r.error) rec.error = r.error->message();
  auto epoch = std::chrono::system_clock::time_point{};
  if (r.started_at != epoch) rec.started_ms = to_ms(r.started_at);
  rec.finished_ms = r.finished_at != epoch ? to_ms(r.finished_at) : now_ms();
  rec.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed).count();
  if (r.cpu_user)
    rec.cpu_user_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*r.cpu_user).count();
  if (r.cpu_system)
    rec.cpu_system_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(*r.cpu_system).count();
  if (r.peak_memory_bytes) rec.peak_memory_bytes = static_cast<int64_t>(*r.peak_memory_bytes);
  rec.output_bytes = static_cast<int64_t>(r.stdout_bytes + r.stderr_bytes);
  rec.output_dropped_bytes = static_cast<int64_t>(r.output_dropped_bytes);
  rec.leftovers_killed = r.leftovers_killed;
  rec.limits_level = to_string(r.limits_level);
  rec.oom_killed = r.oom_killed;
  rec.oom_kills = static_cast<int64_t>(r.oom_kills);
  auto opt = [](const std::optional<uint64_t>& v) {
    return v ? std::optional<int64_t>(static_cast<int64_t>(*v)) : std::nullopt;
  };
  rec.peak_processes = opt(r.peak_processes);
  rec.pids_refused = opt(r.pids_refused);
  if (r.cpu_throttled)
    rec.cpu_throttled_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(*r.cpu_throttled).count();
  if (std::string why = r.describe(); !why.empty()) rec.reason = why;
}

// Output followers wait on inotify for the job directory: this wakes them when the state they
// show changes (the record itself is in the database). Touching the directory's times (an
// IN_ATTRIB event) instead of writing a file: creating a file is the most expensive thing the
// agent does per job on ext4 (inode allocation).
void touch_state(const JobDir& dir, JobState) {
  (void)::utimensat(AT_FDCWD, dir.path.c_str(), nullptr, 0);
}

}  // namespace

Expected<std::unique_ptr<Scheduler>> Scheduler::create(Store& store, Metrics& metrics,
                                                       SchedulerOptions opts) {
  auto loop = Loop::create();
  if (!loop) return loop.error();
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Error::from_errno("eventfd");
  std::unique_ptr<Scheduler> s(
      new Scheduler(store, metrics, std::move(opts), std::move(*loop), std::move(wake)));
  if (CgroupSupport cg = probe_cgroup(); cg.writable) s->cgroup_parent_ = cg.self;
  if (auto r =
          s->loop_.watch(s->wake_.get(), EPOLLIN, [p = s.get()](uint32_t) { p->run_posted(); });
      !r)
    return r.error();
  if (s->opts_.sigchld_fd) {
    if (auto r = s->loop_.watch(s->opts_.sigchld_fd.get(), EPOLLIN,
                                [p = s.get()](uint32_t) { p->on_sigchld(); });
        !r)
      return r.error();
  }
  return s;
}

std::string Scheduler::job_cgroup(const std::string& id) const {
  return cgroup_parent_.empty() ? std::string()
                                : cgroup_parent_ + "/" + job_cgroup_name(opts_.cgroup_tag, id);
}

Scheduler::~Scheduler() {
  if (thread_.joinable()) {
    post([this] { stopping_ = true; });
    thread_.join();
  }
}

Expected<void> Scheduler::start() {
  recover();
  schedule();
  retain_every_second();
  thread_ = std::thread([this] { thread_main(); });
  return {};
}

void Scheduler::thread_main() {
  while (!stopping_) {
    if (auto r = loop_.run_once(); !r) {
      log_error("event loop", r.error());
      std::lock_guard lock(broken_mu_);
      broken_ = "its event loop failed: " + r.error().message();
      return;
    }
  }
}

void Scheduler::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  while (::write(wake_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Scheduler::run_posted() {
  uint64_t n;
  while (::read(wake_.get(), &n, sizeof n) < 0 && errno == EINTR) {
  }
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(mu_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void Scheduler::kick() {
  post([this] { schedule(); });
}

std::optional<std::string> Scheduler::broken() const {
  std::lock_guard lock(broken_mu_);
  return broken_;
}

std::optional<std::string> Scheduler::degraded() const {
  std::lock_guard lock(broken_mu_);
  return degraded_;
}

void Scheduler::set_degraded(std::optional<std::string> why) {
  std::lock_guard lock(broken_mu_);
  if (why && !degraded_)
    std::fprintf(stderr,
                 "tend agent: degraded: %s (job records wait in memory, retried every second)\n",
                 why->c_str());
  if (!why && degraded_) std::fputs("tend agent: job records are written again\n", stderr);
  degraded_ = std::move(why);
}

bool Scheduler::record(const JobRecord& rec) {
  auto r = store_.update(rec);
  if (r) {
    unwritten_.erase(rec.id);
    if (opts_.on_recorded) opts_.on_recorded(rec.id);
    return true;
  }
  unwritten_[rec.id] = rec;
  write_failed(r.error());
  return false;
}

void Scheduler::write_failed(const Error& e) {
  write_failing_ = true;
  set_degraded("cannot write job records: " + e.message());
  if (!retry_armed_) {
    retry_armed_ = true;
    loop_.add_timer(std::chrono::seconds(1), [this] { retry_writes(); });
  }
}

void Scheduler::retry_writes() {
  retry_armed_ = false;
  auto pending = std::move(unwritten_);
  unwritten_.clear();
  for (auto& [id, rec] : pending)
    if (record(rec)) touch_state(job_dir(id), rec.state);
  if (!unwritten_.empty()) return;  // record() armed the next retry
  // Queued jobs could not be recorded `running` meanwhile: healthy again only if that works.
  write_failing_ = false;
  schedule();
  if (!write_failing_) set_degraded(std::nullopt);
}

void Scheduler::retain(bool by_age) {
  if (stopping_) return;
  constexpr int kBatch = 100;  // a short transaction: the API's reads wait for it
  auto removed = retention_pass(store_, opts_.jobs_dir, opts_.retention, now_ms(), kBatch, by_age);
  if (!removed) log_error("retention", removed.error());
  if (removed && *removed > 0) metrics_.add_jobs_removed(*removed);
  // A full batch: more are due, after whatever else the loop has to do.
  if (removed && *removed == kBatch) retain_soon();
}

void Scheduler::retain_soon() {
  if (retain_armed_) return;
  retain_armed_ = true;
  // Coalesced: one pass for the jobs that end within the interval, not one per job.
  loop_.add_timer(std::chrono::milliseconds(50), [this] {
    retain_armed_ = false;
    retain(false);
  });
}

void Scheduler::retain_every_second() {
  retain(true);
  loop_.add_timer(std::chrono::seconds(1), [this] { retain_every_second(); });
}

Scheduler::RemoveOutcome Scheduler::remove(const std::string& id, std::string& why) {
  if (broken()) return RemoveOutcome::unavailable;
  auto answer = std::make_shared<std::promise<std::pair<RemoveOutcome, std::string>>>();
  auto result = answer->get_future();
  post([this, id, answer] {
    if (unwritten_.count(id) || running_.count(id))
      return answer->set_value({RemoveOutcome::still_running, ""});
    auto rec = store_.get(id);
    if (!rec) return answer->set_value({RemoveOutcome::failed, rec.error().message()});
    if (!*rec) return answer->set_value({RemoveOutcome::unknown, ""});
    if (!is_final((*rec)->state)) return answer->set_value({RemoveOutcome::still_running, ""});
    if (auto r = remove_jobs(store_, opts_.jobs_dir, {id}); !r) {
      log_error("remove " + id, r.error());
      return answer->set_value({RemoveOutcome::failed, r.error().message()});
    }
    metrics_.add_jobs_removed(1);
    answer->set_value({RemoveOutcome::removed, ""});
  });
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    return RemoveOutcome::unavailable;
  auto [outcome, text] = result.get();
  why = text;
  return outcome;
}

Scheduler::CancelOutcome Scheduler::cancel(const std::string& id) {
  if (broken()) return CancelOutcome::unavailable;
  auto answer = std::make_shared<std::promise<CancelOutcome>>();
  auto result = answer->get_future();
  post([this, id, answer] {
    // A finished job whose record is still waiting to be written has finished.
    if (unwritten_.count(id) && is_final(unwritten_[id].state))
      return answer->set_value(CancelOutcome::already_finished);
    auto found = store_.get(id);
    if (!found) return answer->set_value(CancelOutcome::unavailable);
    auto& rec = *found;
    if (!rec) return answer->set_value(CancelOutcome::unknown);
    if (is_final(rec->state)) return answer->set_value(CancelOutcome::already_finished);
    rec->cancel_requested = true;
    if (rec->state == JobState::queued) {
      rec->state = JobState::cancelled;
      rec->finished_ms = now_ms();
      rec->exit_status = 128 + SIGTERM;
    } else if (auto it = running_.find(id); it != running_.end()) {
      // The shim turns SIGTERM into Job::stop(): the StopPolicy for the whole tree.
      int rc = it->second.child.valid()
                   ? (it->second.child.signal(SIGTERM) ? 0 : -1)
                   : ::pidfd_send_signal(it->second.pidfd.get(), SIGTERM, nullptr, 0);
      if (rc != 0 && errno != ESRCH)
        log_error("cancel " + id, Error::from_errno("pidfd_send_signal"));
    }
    record(*rec);
    if (rec->state == JobState::cancelled) touch_state(job_dir(id), rec->state);
    answer->set_value(CancelOutcome::accepted);
  });
  // Bounded: a scheduler thread that died meanwhile never answers.
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    return CancelOutcome::unavailable;
  return result.get();
}

void Scheduler::schedule() {
  if (stopping_) return;
  int free = opts_.max_running - static_cast<int>(running_.size());
  if (free <= 0) return;
  if (!unwritten_.empty()) return;  // no new job while records cannot be written
  auto queued = store_.with_state(JobState::queued, free);
  if (!queued) return log_error("find queued jobs", queued.error());
  for (auto& rec : *queued) start_job(std::move(rec));
  metrics_.set_running(static_cast<int64_t>(running_.size()));
}

void Scheduler::start_job(JobRecord rec) {
  JobDir dir = job_dir(rec.id);
  // Recorded `running` before the shim exists: if the agent dies in between, the next start
  // finds a running job with no shim and declares it lost (killing its cgroup by name) instead
  // of starting it a second time.
  rec.state = JobState::running;
  rec.started_ms = now_ms();
  // Not started unless recorded: it stays queued, and starts when records can be written.
  if (auto r = store_.update(rec); !r) return write_failed(r.error());
  if (opts_.on_recorded) opts_.on_recorded(rec.id);
  json spec = {{"id", rec.id},
               {"request", rec.request},
               {"output_limit", opts_.output_limit},
               {"env", opts_.job_env},
               {"umask", static_cast<unsigned>(opts_.job_umask)},
               {"cgroup", job_cgroup_name(opts_.cgroup_tag, rec.id)}};
  auto spec_fd = sealed_memory_file("tend-job-spec", spec.dump());
  if (!spec_fd) return fail_to_start(rec, spec_fd.error());
  Command cmd({opts_.self_exe, "agent-shim", dir.path});
  // Its own session: outside anything that kills the agent's process group or session. Its
  // stdout/stderr: nothing (the shim writes shim.log itself, only when it has something to say).
  cmd.new_session().stdin_(Stdio::from_fd(spec_fd->get())).stdout_(Stdio::null()).merge_stderr();
  auto t0 = std::chrono::steady_clock::now();
  auto child = spawn(cmd);
  metrics_.observe_spawn(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!child) return fail_to_start(rec, child.error());
  // Not committed now (one commit per job fewer): a restarted agent finds its shims in /proc.
  rec.shim_pid = child->pid();
  touch_state(dir, rec.state);
  watch(rec.id, Running{std::move(*child), {}});
}

void Scheduler::fail_to_start(JobRecord& rec, const Error& e) {
  rec.state = JobState::failed;
  rec.error = "could not start the job's supervisor: " + e.message();
  rec.exit_status = 125;
  rec.finished_ms = now_ms();
  record(rec);
  touch_state(job_dir(rec.id), rec.state);
}

void Scheduler::watch(const std::string& id, Running r) {
  int fd = r.fd();
  running_.emplace(id, std::move(r));
  if (auto w = loop_.watch(fd, EPOLLIN, [this, id](uint32_t) { on_shim_exit(id); }); !w)
    log_error("watch shim of " + id, w.error());
  metrics_.set_running(static_cast<int64_t>(running_.size()));
}

void Scheduler::on_shim_exit(const std::string& id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  loop_.unwatch(it->second.fd());
  std::string why = "its supervisor died without recording a result";
  if (it->second.child.valid()) {
    auto st = it->second.child.wait();
    if (st)
      why = "its supervisor (pid " + std::to_string(it->second.child.pid()) + ") " +
            st->describe() + " without recording a result";
  }
  running_.erase(it);
  metrics_.set_running(static_cast<int64_t>(running_.size()));
  if (auto it = unwritten_.find(id); it != unwritten_.end() && !is_final(it->second.state)) {
    JobRecord rec = it->second;
    finish_from_disk(rec, why);
  } else if (auto rec = store_.get(id); rec && *rec) {
    finish_from_disk(**rec, why);
    retain_soon();
  } else if (!rec) {
    // The record cannot be read now: the result stays in the job's directory, and the next
    // start of the agent (or a later look) reconciles it.
    log_error("read record of " + id, rec.error());
  }
  schedule();
}

void Scheduler::finish_from_disk(JobRecord& rec, const std::string& why_no_result) {
  JobDir dir = job_dir(rec.id);
  std::optional<Result> result;
  if (auto text = read_file(dir.result())) {
    json j = json::parse(*text, nullptr, false);
    if (!j.is_discarded()) {
      auto r = result_from_json(j);
      if (r)
        result = std::move(*r);
      else
        log_error("read result of " + rec.id, r.error());
    }
  }
  if (result) {
    apply_result(rec, *result);
  } else {
    // Whatever the job left behind is killed: its cgroup (found by name), else its session and
    // the processes that carry its id (the shim may have died before writing scope.json).
    int killed = 0;
    std::string cg = job_cgroup(rec.id);
    if (!cgroup_parent_.empty() && file_exists(cg)) {
      killed = kill_cgroup(cg);
    } else {
      pid_t sid = 0;
      if (auto text = read_file(dir.scope())) {
        json scope = json::parse(*text, nullptr, false);
        if (!scope.is_discarded() && scope.is_object() && scope.contains("session") &&
            scope["session"].is_number_integer())
          sid = scope["session"].get<pid_t>();
      }
      killed = kill_session(sid, rec.id);
    }
    rec.state = rec.cancel_requested ? JobState::cancelled : JobState::lost;
    rec.error = why_no_result;
    rec.leftovers_killed = killed;
    rec.finished_ms = now_ms();
    if (rec.started_ms) rec.duration_ms = *rec.finished_ms - *rec.started_ms;
    if (auto out = read_file(dir.output())) rec.output_bytes = static_cast<int64_t>(out->size());
  }
  metrics_.add_leftovers_killed(rec.leftovers_killed);
  if (rec.oom_killed) metrics_.add_oom_killed(1);
  record(rec);
  touch_state(dir, rec.state);
}

void Scheduler::recover() {
  // One look at /proc for every shim of this data directory, whatever the database recorded:
  // the agent may have died before recording a shim it had started.
  auto shims = find_shims(opts_.jobs_dir);
  auto running = store_.with_state(JobState::running);
  if (!running) return log_error("find running jobs", running.error());
  for (auto& rec : *running) {
    if (auto it = shims.find(rec.id); it != shims.end()) {
      rec.shim_pid = it->second.pid;
      watch(rec.id, Running{Child{}, std::move(it->second.pidfd)});
      continue;
    }
    // The shim is gone, so its result.json (if any) is complete.
    finish_from_disk(rec,
                     "its supervisor died while the agent was down, without recording a result");
  }
}

void Scheduler::on_sigchld() {
  struct signalfd_siginfo si {};
  if (::read(opts_.sigchld_fd.get(), &si, sizeof si) < 0 && errno != EAGAIN && errno != EINTR)
    log_error("read signalfd", Error::from_errno("read"));
  // One SIGCHLD may stand for many exits: reap every unclaimed child there is.
  int n = Reaper::reap_orphans();
  if (n > 0) metrics_.add_orphans_reaped(n);
}

}  // namespace tend::agent
