#include "tend/job.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <set>

#include "supervisor_guard.hpp"
#include "sys/files.hpp"

namespace tend {

using namespace std::chrono_literals;

const char* to_string(OrphanPolicy p) {
  switch (p) {
    case OrphanPolicy::kill:
      return "kill";
    case OrphanPolicy::wait:
      return "wait";
    case OrphanPolicy::leave:
      return "leave";
  }
  return "?";
}

Expected<OrphanPolicy> parse_orphan_policy(std::string_view text) {
  for (OrphanPolicy p : {OrphanPolicy::kill, OrphanPolicy::wait, OrphanPolicy::leave})
    if (text == to_string(p)) return p;
  return Error::with_detail("orphan policy",
                            "'" + std::string(text) + "': expected kill, wait or leave");
}

namespace {
// Session level has no emptiness notification: how often to look once it matters.
constexpr auto kSessionPollInterval = 20ms;
constexpr size_t kReadChunk = 256 * 1024;
constexpr int kPipeSize = 1 << 20;
constexpr int kReadsPerWakeup = 16;  // fairness between jobs sharing a Loop
}  // namespace

Job::Job(Loop& loop, JobOptions opts, Callback cb)
    : loop_(loop), opts_(std::move(opts)), on_done_(std::move(cb)) {}

Job::~Job() {
  // A guarded job destroyed before it is done is abandoned: it is killed now, here (cgroup.kill
  // marks the scope unfit for the pool, so its cgroup cannot go to another job while the guard
  // still acts on it), and the guard, told to kill it too, removes its cgroup once it is empty.
  if (!done_ && guard_ && scope_) (void)scope_->kill_all();
  // A job destroyed before it is done must not leave callbacks pointing at it.
  if (child_.valid()) loop_.unwatch(child_.pidfd());
  for (int n = 1; n < 3; ++n)
    if (child_.valid() && child_.stdio_fd(n) >= 0) loop_.unwatch(child_.stdio_fd(n));
  if (scope_ && scope_->events_fd() >= 0) loop_.unwatch(scope_->events_fd());
  for (auto id : {timeout_timer_, grace_timer_, poll_timer_})
    if (id) loop_.cancel_timer(id);
}

Expected<std::unique_ptr<Job>> Job::start(Loop& loop, const Command& cmd_in, JobOptions opts,
                                          Callback on_done) {
  std::unique_ptr<Job> job(new Job(loop, std::move(opts), std::move(on_done)));
  auto scope = Scope::create(job->opts_.scope);
  if (!scope) return scope.error();
  job->scope_ = std::move(*scope);

  Command cmd = cmd_in;
  // At the session level the job's session is how its processes are found; a caller that wants
  // only a process group (a terminal's foreground job) keeps its session.
  if (job->scope_->level() == ScopeLevel::session && !cmd.wants_process_group())
    cmd.new_session(true);

  bool captures = false;
  for (int n = 1; n < 3; ++n) captures |= cmd.stdio(n).kind == Stdio::Kind::capture;
  if (captures) {
    if (job->opts_.output) {
      job->sink_ = job->opts_.output;
    } else {
      job->own_capture_ = std::make_unique<OutputCapture>(job->opts_.limits);
      job->sink_ = job->own_capture_.get();
    }
  }

  if (job->opts_.guard) {
    // Before the job starts: if it cannot be guarded, nothing is started.
    auto guard = detail::SupervisorGuard::start(*job->scope_);
    if (!guard) return guard.error();
    job->guard_ = std::move(*guard);
  }

  job->result_.scope_level = job->scope_->level();
  job->result_.spawn_level = current_spawn_level();
  job->result_.started_at = std::chrono::system_clock::now();
  job->started_mono_ = Loop::Clock::now();

  auto child = spawn(cmd, job->scope_.get());
  if (!child) {
    job->result_.reason = EndReason::spawn_failed;
    job->result_.error = child.error();
    job->main_exited_ = true;
    job->finish();
    return job;
  }
  job->child_ = std::move(*child);
  job->result_.pid = job->child_.pid();
  job->result_.spawn_level = job->child_.spawn_level();
  job->scope_->adopt_main(job->child_.pid());
  if (job->guard_) job->guard_->set_main(job->child_.pid());

  Job* self = job.get();
  if (auto r =
          loop.watch(self->child_.pidfd(), EPOLLIN, [self](uint32_t) { self->on_main_exit(); });
      !r)
    return r.error();
  for (int n = 1; n < 3; ++n) {
    int fd = self->child_.stdio_fd(n);
    if (fd < 0) continue;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    // A larger pipe means fewer wake-ups for a chatty job (best effort: pipe-max-size may be
    // lower for unprivileged users).
    (void)::fcntl(fd, F_SETPIPE_SZ, kPipeSize);
    if (auto r = loop.watch(fd, EPOLLIN, [self, n](uint32_t) { self->on_readable(n); }); !r)
      return r.error();
  }
  if (int efd = self->scope_->events_fd(); efd >= 0) {
    if (auto r = loop.watch(efd, EPOLLPRI, [self](uint32_t) { self->on_scope_change(); }); !r)
      return r.error();
  }
  if (self->opts_.timeout > 0ms)
    self->timeout_timer_ = loop.add_timer(self->opts_.timeout, [self] {
      self->timeout_timer_ = 0;
      self->on_timeout();
    });
  return job;
}

void Job::on_main_exit() {
  auto st = child_.try_wait();
  if (!st) {
    // The main process can no longer be waited for (ECHILD: someone reaped it). Never spin on a
    // readable pidfd: it is over, with no status (tend's failure, 125), and the scope is handled.
    loop_.unwatch(child_.pidfd());
    main_exited_ = true;
    result_.error = st.error();
    if (stopping_ || done_ || scope_->empty()) return maybe_finish();
    return begin_stop(opts_.stop.signal, EndReason::exited);
  }
  if (!st->has_value()) return;  // spurious wake-up
  loop_.unwatch(child_.pidfd());
  main_exited_ = true;
  result_.status = **st;
  if (stopping_ || done_) return maybe_finish();
  if (scope_->empty()) return finish();  // what maybe_finish() would find, without reading again
  switch (opts_.orphans) {
    case OrphanPolicy::kill:
      begin_stop(opts_.stop.signal, EndReason::exited);
      break;
    case OrphanPolicy::wait:
      arm_session_poll();
      break;
    case OrphanPolicy::leave:
      result_.leftovers_left = static_cast<int>(scope_->pids().size());
      leave_ = true;
      finish();
      break;
  }
}

void Job::on_scope_change() {
  // Reading cgroup.events acknowledges the notification; unread, epoll would report it again
  // at once (level-triggered) and the loop would spin until the main process exits.
  bool empty = scope_->empty();
  if (empty) maybe_finish();
}

void Job::on_readable(int n) {
  read_pipe(n, kReadsPerWakeup);
}

bool Job::read_pipe(int n, int max_reads) {
  int fd = child_.stdio_fd(n);
  if (fd < 0) return false;
  static thread_local char buf[kReadChunk];  // too big for the stack of a small thread
  for (int i = 0; i < max_reads; ++i) {
    ssize_t r = sys::read_retry(fd, buf, sizeof buf);
    if (r > 0) {
      if (sink_)
        sink_->write(n == 1 ? Stream::out : Stream::err,
                     std::string_view(buf, static_cast<size_t>(r)));
      continue;
    }
    if (r < 0 && errno == EAGAIN) return true;
    close_pipe(n);  // EOF, or an error we cannot do anything about
    return false;
  }
  return true;
}

void Job::drain_pipes() {
  // Called once the scope is empty: only bytes already in the pipes remain (at most the pipe's
  // size). Read them without waiting, and at most that much: a writer outside the scope
  // (OrphanPolicy::leave) can neither hold us up nor keep us reading.
  constexpr int kDrainReads = kPipeSize / kReadChunk + 2;
  for (int n = 1; n < 3; ++n) {
    read_pipe(n, kDrainReads);
    close_pipe(n);
  }
}

void Job::close_pipe(int n) {
  int fd = child_.stdio_fd(n);
  if (fd < 0) return;
  loop_.unwatch(fd);
  (n == 1 ? child_.stdout_pipe() : child_.stderr_pipe()).reset();
}

void Job::on_timeout() {
  if (done_ || stopping_) return;
  begin_stop(opts_.stop.signal, EndReason::timed_out);
}

void Job::stop(int sig) {
  if (done_) return;
  if (stopping_) {
    // A second request does not wait out the grace again.
    if (grace_timer_) {
      loop_.cancel_timer(grace_timer_);
      grace_timer_ = 0;
      on_grace_expired();
    }
    return;
  }
  begin_stop(sig ? sig : opts_.stop.signal, EndReason::cancelled);
}

void Job::note_leftovers() {
  for (pid_t pid : scope_->pids())
    if (pid != child_.pid()) leftovers_.insert(pid);
  result_.leftovers_killed = static_cast<int>(leftovers_.size());
}

void Job::begin_stop(int sig, EndReason why) {
  stopping_ = true;
  result_.reason = why;
  result_.stop_signal = sig;
  if (timeout_timer_) {
    loop_.cancel_timer(timeout_timer_);
    timeout_timer_ = 0;
  }
  // No grace, or the stop signal is SIGKILL anyway: one atomic kill of the scope, no sweep.
  if (opts_.stop.grace <= 0ms || sig == SIGKILL) return on_grace_expired();
  note_leftovers();
  scope_->signal_all(sig);
  if (!main_exited_) (void)child_.signal(sig);  // also when it is outside the scope's view
  if (scope_->empty() && main_exited_) return maybe_finish();
  grace_timer_ = loop_.add_timer(opts_.stop.grace, [this] {
    grace_timer_ = 0;
    on_grace_expired();
  });
  arm_session_poll();
}

void Job::on_grace_expired() {
  if (done_) return;
  bool main_alive = !main_exited_;
  if (scope_->empty() && !main_alive) return maybe_finish();
  killed_ = true;
  note_leftovers();
  (void)scope_->kill_all();
  if (main_alive) (void)child_.signal(SIGKILL);
  arm_session_poll();
}

void Job::arm_session_poll() {
  if (scope_->events_fd() >= 0 || poll_timer_) return;
  poll_timer_ = loop_.add_timer(kSessionPollInterval, [this] {
    poll_timer_ = 0;
    if (done_) return;
    maybe_finish();
    if (!done_) arm_session_poll();
  });
}

void Job::maybe_finish() {
  if (done_ || !main_exited_) return;
  if (!leave_ && !scope_->empty()) return;
  finish();
}

void Job::finish() {
  if (done_) return;
  for (Loop::TimerId* id : {&timeout_timer_, &grace_timer_, &poll_timer_}) {
    if (*id) loop_.cancel_timer(*id);
    *id = 0;
  }
  drain_pipes();
  if (sink_) {
    sink_->finish();
    result_.stdout_bytes = sink_->total_bytes(Stream::out);
    result_.stderr_bytes = sink_->total_bytes(Stream::err);
    result_.output_dropped_bytes = sink_->dropped_bytes();
  }
  result_.killed = killed_;
  result_.finished_at = std::chrono::system_clock::now();
  result_.elapsed =
      std::chrono::duration_cast<std::chrono::microseconds>(Loop::Clock::now() - started_mono_);
  if (scope_) {
    auto u = scope_->usage();
    result_.cpu_user = u.user;
    result_.cpu_system = u.system;
    result_.peak_memory_bytes = u.peak_memory_bytes;
    note_limit_usage();
    if (child_.valid() && child_.status()) {
      // What the kernel keeps per waited child: the main process and what it waited for.
      const struct rusage& ru = child_.rusage();
      auto us = [](const timeval& tv) {
        return std::chrono::microseconds(tv.tv_sec * 1'000'000LL + tv.tv_usec);
      };
      if (!result_.cpu_user) result_.cpu_user = us(ru.ru_utime);
      if (!result_.cpu_system) result_.cpu_system = us(ru.ru_stime);
      if (!result_.peak_memory_bytes) result_.peak_memory_bytes = uint64_t(ru.ru_maxrss) * 1024;
    }
    if (scope_->events_fd() >= 0) loop_.unwatch(scope_->events_fd());
  }
  // The job is over (or left running on purpose): its guard stands down, before the scope is
  // released (a pooled cgroup may go to the next job at once: no guard may act on it then).
  if (guard_) guard_->disarm();
  if (scope_ && !leave_) (void)scope_->release();
  done_ = true;
  if (on_done_) on_done_(result_);
}

void Job::note_limit_usage() {
  result_.limits_level = scope_->limits_level();
  if (result_.limits_level == LimitsLevel::none) return;
  result_.memory_limit_bytes = scope_->limits().memory_max;
  LimitUsage lu = scope_->limit_usage();
  result_.oom_kills = lu.oom_kills;
  result_.oom_killed = lu.oom_kills > 0;
  // The memory controller's figure covers the whole scope, not only what was waited for.
  if (lu.peak_memory_bytes) result_.peak_memory_bytes = lu.peak_memory_bytes;
  result_.peak_processes = lu.peak_processes;
  result_.pids_refused = lu.pids_refused;
  result_.cpu_throttled = lu.cpu_throttled;
}

Expected<void> Job::signal_main(int sig) {
  if (main_exited_) return Error{"pidfd_send_signal", ESRCH, {}, {}};
  return child_.signal(sig);
}

int Job::signal_all(int sig) {
  if (!scope_) return 0;
  return scope_->signal_all(sig);
}

Expected<Result> run(const Command& cmd, JobOptions opts) {
  auto loop = Loop::create();
  if (!loop) return loop.error();
  auto job = Job::start(*loop, cmd, std::move(opts));
  if (!job) return job.error();
  if (auto r = loop->run_until([&] { return (*job)->done(); }); !r) return r.error();
  return (*job)->result();
}

}  // namespace tend
