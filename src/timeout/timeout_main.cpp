// `tend timeout`: GNU timeout's command line, options and exit statuses; the command runs as a
// tend Job, so the whole tree it starts is contained and stopped with it.
//
// The face keeps GNU's timeline itself (the Job's own timeout and grace are not used): the
// duration timer, signals to us (INT, QUIT, HUP, TERM and the -s signal stop the command; ALRM
// times it out now, as GNU's own timer does), and one -k timer armed by the first of them,
// never reset. Every signal arrives on a signalfd watched by the Loop: no handlers.
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tend/job.hpp"
#include "tend/loop.hpp"
#include "tend/parse.hpp"
#include "tend/reaper.hpp"
#include "timeout_face.hpp"
#include "timeout_options.hpp"

namespace tend::timeout_face {
namespace {

using namespace std::chrono_literals;

// Once the command has exited, what it left behind is stopped like `tend run` stops it: its
// signal, then SIGKILL after this grace even when -k was not given (GNU would leave it running).
constexpr auto kLeftoverGrace = 10s;

// Raised by the kernel for a faulting thread: never forwarded.
bool is_fault_signal(int sig) {
  return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP ||
         sig == SIGSYS || sig == SIGABRT;
}

// Every signal we take from the signalfd. TSTP keeps its default (it stops us, as it stops GNU
// timeout); glibc's own real-time signals are left alone.
std::vector<int> caught_signals() {
  std::vector<int> sigs;
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGTSTP || is_fault_signal(sig)) continue;
    if (sig > SIGSYS && sig < SIGRTMIN) continue;
    sigs.push_back(sig);
  }
  return sigs;
}

class TimeoutRun {
 public:
  TimeoutRun(Loop& loop, Job& job, const TimeoutOptions& o)
      : loop_(loop), job_(job), o_(o), term_signal_(o.signal) {}

  void start_timer() {
    if (o_.timeout > 0ms)
      timer_ = loop_.add_timer(o_.timeout, [this] {
        timer_ = 0;
        time_out();
      });
  }

  void on_signal(int sig) {
    if (sig == SIGCHLD) {  // children we had before the command, orphans (session level)
      Reaper::reap_orphans();
      return;
    }
    if (sig == SIGTTIN || sig == SIGTTOU) return;  // GNU ignores them
    if (sig == SIGALRM) return time_out();
    if (sig == SIGINT || sig == SIGQUIT || sig == SIGHUP || sig == SIGTERM || sig == o_.signal)
      return send(sig);
    (void)job_.signal_main(sig);  // anything else is the command's business
  }

  // After every batch of events: once the command has exited, bound the wait for what it left.
  void after_batch() {
    if (job_.done() || leftover_timer_ || kill_timer_ || !job_.result().status) return;
    leftover_timer_ = loop_.add_timer(kLeftoverGrace, [this] {
      leftover_timer_ = 0;
      job_.stop();  // the second stop: SIGKILL for the scope
    });
  }

  bool timed_out() const { return timed_out_; }

 private:
  void time_out() {
    timed_out_ = true;
    send(term_signal_);
  }

  // GNU's cleanup(): say it, signal the command's whole tree, wake it if stopped, and arm the
  // -k timer the first time.
  void send(int sig) {
    if (o_.verbose)
      std::fprintf(stderr, "%s: sending signal %s to command '%s'\n", o_.program.c_str(),
                   gnu_signal_name(sig).c_str(), o_.command.front().c_str());
    if (!stopping_) {
      stopping_ = true;
      job_.stop(sig);
    } else if (sig == SIGKILL) {
      job_.stop();
    } else {
      (void)job_.signal_all(sig);
    }
    if (sig != SIGKILL && sig != SIGCONT && sig != 0) (void)job_.signal_all(SIGCONT);
    if (o_.kill_after > 0ms && !kill_armed_) {
      kill_armed_ = true;
      if (timer_) loop_.cancel_timer(timer_);  // GNU has one timer: -k replaces the duration
      timer_ = 0;
      kill_timer_ = loop_.add_timer(o_.kill_after, [this] {
        kill_timer_ = 0;
        term_signal_ = SIGKILL;
        time_out();
      });
    }
  }

  Loop& loop_;
  Job& job_;
  const TimeoutOptions& o_;
  int term_signal_;
  bool timed_out_ = false, stopping_ = false, kill_armed_ = false;
  Loop::TimerId timer_ = 0, kill_timer_ = 0, leftover_timer_ = 0;
};

// Dies of `sig` as the command did, so that our parent sees the same wait status (GNU does it
// too, with core dumps off: the command already dumped its own). 128+N if we survive it.
int die_like(int sig) {
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  return 128 + sig;
}

int exit_status(const Result& r, const TimeoutOptions& o, bool timed_out) {
  if (r.reason == EndReason::spawn_failed) {
    const int code = r.exit_code();
    if (code == 125 || !r.error)
      std::fprintf(stderr, "%s: %s\n", o.program.c_str(),
                   r.error ? r.error->message().c_str() : "the command did not start");
    else
      std::fprintf(stderr, "%s: failed to run command '%s': %s\n", o.program.c_str(),
                   o.command.front().c_str(), std::strerror(r.error->code));
    return code;
  }
  if (!r.status) return 125;
  const ExitStatus& st = *r.status;
  if (timed_out) {
    // SIGKILL was needed: 137 even without --preserve-status, so the two can be told apart.
    if (o.preserve_status || (st.signaled() && st.value == SIGKILL)) return st.shell_code();
    return 124;
  }
  if (st.signaled()) return die_like(st.value);
  return st.value;
}

int fail(const TimeoutOptions& o, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", o.program.c_str(), e.message().c_str());
  return 125;
}

}  // namespace

int main(int argc, char** argv) {
  const ParsedTimeout parsed = parse_timeout_args(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  const TimeoutOptions& o = *parsed.options;

  auto sigfd = make_signalfd(caught_signals());
  if (!sigfd) return fail(o, sigfd.error());
  auto loop = Loop::create();
  if (!loop) return fail(o, loop.error());

  JobOptions job_options;
  // The face stops the command itself; the Job's grace is "never" so that only -k (or the bound
  // on leftovers) sends SIGKILL. The orphan policy uses the -s signal, as a stop does.
  job_options.stop.signal = o.signal;
  job_options.stop.grace = kMaxDuration;
  // As GNU's handlers do: the signals we act on reach the command with their default action,
  // even where our caller ignored them (a `trap '' INT` script); every other one stays ignored.
  Command command(o.command);
  for (int sig : {SIGALRM, SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGTTIN, SIGTTOU, o.signal})
    if (sig > 0) command.default_signal(sig);
  auto job = Job::start(*loop, command, job_options);
  if (!job) return fail(o, job.error());

  TimeoutRun run(*loop, **job, o);
  if (!(*job)->done()) {
    run.start_timer();
    auto watched = loop->watch(sigfd->get(), EPOLLIN, [&](uint32_t) {
      signalfd_siginfo info;
      for (;;) {
        ssize_t n = ::read(sigfd->get(), &info, sizeof info);
        if (n < 0 && errno == EINTR) continue;
        if (n != static_cast<ssize_t>(sizeof info)) break;  // EAGAIN: all read
        run.on_signal(static_cast<int>(info.ssi_signo));
      }
    });
    if (!watched) {
      (*job)->stop(SIGKILL);
      return fail(o, watched.error());
    }
    auto ran = loop->run_until([&] {
      run.after_batch();
      return (*job)->done();
    });
    if (!ran) return fail(o, ran.error());
    loop->unwatch(sigfd->get());
  }
  return exit_status((*job)->result(), o, run.timed_out());
}

}  // namespace tend::timeout_face
