#include "signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "tend/parse.hpp"
#include "tend/reaper.hpp"

namespace tend::init_face {
namespace {

// Raised by the kernel for the faulting thread itself; forwarding them would make no sense.
bool is_fault_signal(int sig) {
  switch (sig) {
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
    case SIGABRT:
      return true;
    default:
      return false;
  }
}

void reap(const Options& opt) {
  // tini's messages, for scripts that look for them (its -w, and TINI_VERBOSITY=3).
  if (opt.tini.on && opt.tini.verbosity > 2)
    std::fprintf(stderr, "[DEBUG tini (%d)] Received SIGCHLD\n", static_cast<int>(::getpid()));
  Reaper::reap_orphans([&](pid_t pid, const ExitStatus& status) {
    if (opt.tini.on && opt.tini.warn_on_reap && opt.tini.verbosity > 0)
      std::fprintf(stderr, "[WARN  tini (%d)] Reaped zombie process with pid=%d\n",
                   static_cast<int>(::getpid()), static_cast<int>(pid));
    if (opt.verbose)
      std::fprintf(stderr, "tend init: reaped orphan %d (%s)\n", pid, status.describe().c_str());
  });
}

void forward(Job& job, const Options& opt, int sig) {
  Expected<void> sent;
  switch (opt.forward_to) {
    case ForwardTo::main:
      sent = job.signal_main(sig);
      break;
    case ForwardTo::group:
      // -g gave the main process its own group, so its PGID is its PID.
      if (::kill(-job.pid(), sig) != 0) sent = Error::from_errno("kill process group");
      break;
    case ForwardTo::all:
      job.signal_all(sig);
      break;
  }
  // ESRCH once the main process is gone is expected; say so only when asked.
  if (opt.verbose)
    std::fprintf(stderr, "tend init: forwarded %s%s%s\n", signal_name(sig).c_str(),
                 sent ? "" : ": ", sent ? "" : sent.error().message().c_str());
}

}  // namespace

std::vector<int> caught_signals() {
  std::vector<int> sigs;
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || is_fault_signal(sig)) continue;
    if (sig > SIGSYS && sig < SIGRTMIN) continue;  // glibc's own (thread cancellation, setxid)
    sigs.push_back(sig);
  }
  return sigs;
}

void on_signal(Job& job, const Options& opt, int sig) {
  // Blocked only so that handing the terminal back works from a background process group.
  if (sig == SIGTTIN || sig == SIGTTOU) return;
  if (sig == SIGCHLD) return reap(opt);
  auto rewritten = opt.rewrite.find(sig);
  const int out = rewritten == opt.rewrite.end() ? sig : rewritten->second;
  if (out == 0) return;
  if (sig == SIGTERM || sig == SIGINT) {
    if (opt.verbose)
      std::fprintf(stderr, "tend init: %s: stopping with %s\n", signal_name(sig).c_str(),
                   signal_name(out).c_str());
    return job.stop(out);
  }
  forward(job, opt, out);
}

}  // namespace tend::init_face
