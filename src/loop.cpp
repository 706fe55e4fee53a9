#include "tend/loop.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <vector>

namespace tend {

Expected<Loop> Loop::create() {
  Loop loop;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return Error::from_errno("epoll_create1");
  loop.epoll_.reset(ep);
  int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (tfd < 0) return Error::from_errno("timerfd_create");
  loop.timerfd_.reset(tfd);
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.fd = tfd;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) return Error::from_errno("epoll_ctl");
  return loop;
}

Loop::Loop(Loop&&) noexcept = default;
Loop& Loop::operator=(Loop&&) noexcept = default;
Loop::~Loop() = default;

Expected<void> Loop::watch(int fd, uint32_t events, FdCallback cb) {
  struct epoll_event ev {};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
    return Error::from_errno("epoll_ctl add");
  watches_[fd] = std::make_shared<Watch>(Watch{std::move(cb)});
  return {};
}

Expected<void> Loop::modify(int fd, uint32_t events) {
  struct epoll_event ev {};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) < 0)
    return Error::from_errno("epoll_ctl mod");
  return {};
}

void Loop::unwatch(int fd) {
  if (watches_.erase(fd)) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

Loop::TimerId Loop::add_timer(Clock::time_point deadline, TimerCallback cb) {
  TimerId id = next_timer_++;
  timers_.emplace(deadline, std::make_pair(id, std::move(cb)));
  timer_deadlines_[id] = deadline;
  arm_timerfd();
  return id;
}

void Loop::cancel_timer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  auto range = timers_.equal_range(it->second);
  for (auto t = range.first; t != range.second; ++t) {
    if (t->second.first == id) {
      timers_.erase(t);
      break;
    }
  }
  timer_deadlines_.erase(it);
  arm_timerfd();
}

void Loop::arm_timerfd() {
  std::optional<Clock::time_point> want;
  if (!timers_.empty()) want = timers_.begin()->first;
  if (want == armed_) return;
  armed_ = want;
  struct itimerspec its {};
  if (want) {
    // steady_clock is CLOCK_MONOTONIC on Linux: the deadline converts directly.
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(want->time_since_epoch()).count();
    if (ns <= 0) ns = 1;
    its.it_value.tv_sec = ns / 1'000'000'000;
    its.it_value.tv_nsec = ns % 1'000'000'000;
  }
  ::timerfd_settime(timerfd_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
}

void Loop::fire_timers() {
  uint64_t expirations;
  (void)::read(timerfd_.get(), &expirations, sizeof expirations);
  armed_.reset();
  auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_deadlines_.erase(node.mapped().first);
    node.mapped().second();  // may add or cancel timers
  }
  arm_timerfd();
}

Expected<void> Loop::run_once(std::optional<Clock::time_point> deadline) {
  int timeout_ms = -1;
  if (deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    timeout_ms = left < 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
  }
  struct epoll_event events[64];
  int n = ::epoll_wait(epoll_.get(), events, 64, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return {};
    return Error::from_errno("epoll_wait");
  }
  bool timer_ready = false;
  // Callbacks may unwatch fds (their own or others'): hold each watch alive while it runs and
  // skip watches that were removed or replaced during this batch.
  std::vector<std::pair<int, uint32_t>> ready;
  ready.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;  // copied out: epoll_event is packed
    uint32_t ev = events[i].events;
    if (fd == timerfd_.get())
      timer_ready = true;
    else
      ready.emplace_back(fd, ev);
  }
  struct Call {
    int fd;
    std::shared_ptr<Watch> watch;
    uint32_t events;
  };
  std::vector<Call> calls;
  calls.reserve(ready.size());
  for (auto [fd, ev] : ready) {
    auto it = watches_.find(fd);
    if (it != watches_.end()) calls.push_back({fd, it->second, ev});
  }
  for (auto& call : calls) {
    auto it = watches_.find(call.fd);
    // Still registered as the same watch: not removed or replaced by an earlier callback.
    if (it == watches_.end() || it->second != call.watch) continue;
    call.watch->cb(call.events);
  }
  if (timer_ready) fire_timers();
  return {};
}

Expected<void> Loop::run_until(const std::function<bool()>& done) {
  while (!done()) {
    std::optional<Clock::time_point> none;
    if (auto r = run_once(none); !r) return r;
  }
  return {};
}

}  // namespace tend
