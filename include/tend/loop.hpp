// Loop: one epoll loop over pidfds, pipes, timers, a signalfd and cgroup event fds.
// No polling, no sleeping, no thread per child. Single-threaded: all callbacks run in run_once().
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "tend/error.hpp"
#include "tend/fd.hpp"

namespace tend {

class Loop {
 public:
  using Clock = std::chrono::steady_clock;
  using FdCallback = std::function<void(uint32_t events)>;
  using TimerCallback = std::function<void()>;
  using TimerId = uint64_t;

  static Expected<Loop> create();
  Loop(Loop&&) noexcept;
  Loop& operator=(Loop&&) noexcept;
  ~Loop();

  // Calls `cb` with the epoll events whenever `fd` is ready for `events` (EPOLLIN, EPOLLPRI, ...).
  // The fd stays owned by the caller, who must unwatch() it before closing it.
  Expected<void> watch(int fd, uint32_t events, FdCallback cb);
  Expected<void> modify(int fd, uint32_t events);
  void unwatch(int fd);

  // Calls `cb` once at `deadline` (one timerfd serves all timers).
  TimerId add_timer(Clock::time_point deadline, TimerCallback cb);
  TimerId add_timer(Clock::duration after, TimerCallback cb) {
    return add_timer(Clock::now() + after, std::move(cb));
  }
  void cancel_timer(TimerId id);

  // Waits for events until `deadline` (nullopt: forever) and dispatches them. Returns after the
  // first batch, or at the deadline. EINTR is not an error.
  Expected<void> run_once(std::optional<Clock::time_point> deadline = std::nullopt);
  // Runs until `done()` is true (checked after every batch).
  Expected<void> run_until(const std::function<bool()>& done);

  int epoll_fd() const { return epoll_.get(); }

 private:
  Loop() = default;
  void arm_timerfd();
  void fire_timers();

  UniqueFd epoll_;
  UniqueFd timerfd_;
  struct Watch {
    FdCallback cb;
  };
  // shared_ptr: a callback that unwatches or re-watches an fd during a batch must not destroy a
  // watch that is running, and a replaced watch must not receive the old registration's events.
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  std::multimap<Clock::time_point, std::pair<TimerId, TimerCallback>> timers_;
  std::unordered_map<TimerId, Clock::time_point> timer_deadlines_;
  TimerId next_timer_ = 1;
  std::optional<Clock::time_point> armed_;
};

}  // namespace tend
