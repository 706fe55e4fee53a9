#include "tend/inherited_signals.hpp"

namespace tend {
namespace {

InheritedSignals g_inherited;

InheritedSignals record() {
  InheritedSignals s;
  sigemptyset(&s.mask);
  sigemptyset(&s.ignored);
  (void)::sigprocmask(SIG_SETMASK, nullptr, &s.mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa {};
    if (::sigaction(sig, nullptr, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
        sa.sa_handler == SIG_IGN)
      sigaddset(&s.ignored, sig);
  }
  return s;
}

// Before main(): nothing of tend has blocked or ignored a signal yet.
__attribute__((constructor)) void record_at_startup() {
  g_inherited = record();
}

}  // namespace

const InheritedSignals& inherited_signals() {
  return g_inherited;
}

void make_children_waitable() {
  struct sigaction sa {};
  if (::sigaction(SIGCHLD, nullptr, &sa) != 0) return;
  const bool auto_reap =
      (!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN) || (sa.sa_flags & SA_NOCLDWAIT);
  if (!auto_reap) return;
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  (void)::sigaction(SIGCHLD, &dfl, nullptr);
}

}  // namespace tend
