// Which fleet runs changed locally: handed from the scheduler's thread (its on_recorded hook,
// after each job record it writes) to the fleet member's reporter, which runs on the agent's
// io_context. The hook wakes the reporter at once, so a run's new state goes to etcd without
// waiting for a timer (a ~200 ms floor per job before, docs/benchmarks.md "Fleet").
//
// Ownership and shutdown: the scheduler's hook and the member share this object; the member
// attaches its wake-up when it starts and detaches it before it (and the io_context) goes away.
// The wake-up runs with the lock held, so after detach() returns no call is in progress and
// none follows: a record written while the agent stops cannot post into a dead io_context.
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>

namespace tend::agent {

class RunChanges {
 public:
  struct Taken {
    std::set<std::string> ids;  // the runs whose local record changed
    bool all = false;           // every tracked run needs a look (e.g. after re-registering)
  };

  // Any thread: `id`'s local record changed. Wakes the reporter if one is attached.
  void changed(const std::string& id);
  // Any thread: every tracked run needs a look.
  void all_changed();
  // Whether anything is waiting to be taken.
  bool pending() const;
  // What changed since the last take, emptied.
  Taken take();

  // `wake` is called (with the lock held: it must only post) after each change. Replaces any.
  void attach(std::function<void()> wake);
  // No wake-up after this returns.
  void detach();

 private:
  void wake_locked();

  mutable std::mutex mu_;
  Taken pending_{{}, true};  // at start, everything is worth a look
  std::function<void()> wake_;
};

}  // namespace tend::agent
