// The signal setup this process was started with, handed on to every job.
//
// POSIX keeps ignored signals and the signal mask across exec, and tools rely on it: `nohup`
// ignores SIGHUP, `trap '' PIPE` ignores SIGPIPE, a caller may block a signal on purpose. tend
// changes its own mask (signalfd) and dispositions (SIGCHLD, SIGPIPE) for its own work; the job
// must get what tend got, not what tend made of it.
#pragma once

#include <signal.h>

namespace tend {

struct InheritedSignals {
  sigset_t mask;     // blocked at startup
  sigset_t ignored;  // SIG_IGN at startup
};

// Recorded once, before main() runs (a constructor in libtend), so before tend changed anything.
const InheritedSignals& inherited_signals();

// An inherited SIG_IGN (or SA_NOCLDWAIT) for SIGCHLD makes the kernel reap our children itself:
// every wait then fails with ECHILD and no exit is ever seen. Puts SIGCHLD back to SIG_DFL for
// this process (jobs still get the inherited SIG_IGN). spawn() calls it; idempotent and cheap.
void make_children_waitable();

}  // namespace tend
