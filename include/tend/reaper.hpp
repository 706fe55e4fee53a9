// Reaper: for a process that is PID 1 or a child subreaper and also waits for its own children.
//
// Every Child spawned through libtend is *claimed* (registered by PID) from before it can exit
// until its owner reaps it through its pidfd. The reaper reaps only unclaimed children: orphans
// that the kernel re-parented to us. Claims and reaping take one mutex, and spawn holds it
// across the clone, so a child cannot exit, be seen as unclaimed and be stolen in between:
// libtend's waits never fail with ECHILD and never get someone else's status (go-reaper's bug).
// Children started behind libtend's back (system(), posix_spawn) are unclaimed: call claim().
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "tend/child.hpp"
#include "tend/error.hpp"
#include "tend/fd.hpp"

namespace tend {

class Reaper {
 public:
  // PR_SET_CHILD_SUBREAPER, unless this process is PID 1 (already the reaper of its namespace).
  static Expected<void> become_subreaper();
  static bool is_pid1();

  // Reaps every exited child that no one claims. Non-blocking. Calls `on_reaped` (if set) for
  // each, with its status. Returns how many it reaped.
  static int reap_orphans(const std::function<void(pid_t, const ExitStatus&)>& on_reaped = {});

  // Claims for children not started by libtend.
  static void claim(pid_t pid);
  static void unclaim(pid_t pid);
};

// A signalfd for SIGCHLD (and whatever else is in `signals`): blocks those signals in the calling
// thread and returns an fd that is readable when one is pending. No process-wide handler is
// installed; libtend's spawn gives the child the mask this process was started with
// (tend::inherited_signals), so jobs do not inherit these blocked signals.
Expected<UniqueFd> make_signalfd(const std::vector<int>& signals);

}  // namespace tend
