#include "run_signals.hpp"

#include <signal.h>
#include <unistd.h>

#include "tend/reaper.hpp"

namespace tend::run_face {

std::vector<int> caught_signals() {
  std::vector<int> sigs;
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) continue;  // job control
    if (sig > SIGSYS && sig < SIGRTMIN) continue;  // glibc's own (thread cancellation, setxid)
    sigs.push_back(sig);
  }
  return sigs;
}

void SignalRouter::on_signal(const signalfd_siginfo& info) {
  const int sig = static_cast<int>(info.ssi_signo);
  switch (sig) {
    case SIGCHLD:
      // Orphans re-parented to us (session level makes tend a subreaper): reap them. Children
      // libtend waits for through their pidfds are claimed and left alone.
      Reaper::reap_orphans();
      return;
    case SIGTERM:
    case SIGINT:
      // The first request applies the StopPolicy; a second one skips what is left of the grace.
      job_.stop(sig);
      return;
    case SIGPIPE:
      // The kernel sends it to a writer of a closed pipe (tend's -v or --json on stderr) as if
      // from the writer itself: the write fails with EPIPE instead, nothing to pass on.
      if (info.ssi_code == SI_USER && static_cast<pid_t>(info.ssi_pid) == ::getpid()) return;
      break;
    default:
      break;
  }
  (void)job_.signal_main(sig);
}

}  // namespace tend::run_face
