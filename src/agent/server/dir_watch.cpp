#include "server/dir_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tend::agent {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

DirWatch::DirWatch(asio::io_context& ioc) : ioc_(ioc), fd_(ioc) {
  int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return;
  fd_.assign(fd);
  asio::co_spawn(ioc_, read_events(), asio::detached);
}

DirWatch::~DirWatch() = default;

void DirWatch::close() {
  boost::system::error_code ec;
  fd_.close(ec);
}

void DirWatch::bump(Entry& e) {
  ++e.generation;
  for (auto* t : e.waiters) t->cancel();
}

asio::awaitable<void> DirWatch::read_events() {
  std::vector<char> buf(8192);
  while (fd_.is_open()) {
    auto [ec] = co_await fd_.async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
    if (ec) co_return;
    ssize_t n;
    while ((n = ::read(fd_.native_handle(), buf.data(), buf.size())) > 0)
      handle_events(buf.data(), static_cast<size_t>(n));
  }
}

// Not in the coroutine: GCC puts a coroutine's locals in its frame without honouring their
// alignment, and an inotify_event (a flexible array member) cannot live there at all.
void DirWatch::handle_events(const char* data, size_t n) {
  for (size_t off = 0; off + sizeof(struct inotify_event) <= n;) {
    struct inotify_event ev {};
    std::memcpy(&ev, data + off, sizeof ev);
    off += sizeof(struct inotify_event) + ev.len;
    if (ev.mask & IN_Q_OVERFLOW) {
      for (auto& [dir, e] : dirs_) bump(e);
      continue;
    }
    auto it = by_wd_.find(ev.wd);
    if (it == by_wd_.end()) continue;
    auto& e = dirs_[it->second];
    bump(e);
    if (ev.mask & IN_IGNORED) {  // the directory is gone
      e.wd = -1;
      by_wd_.erase(it);
    }
  }
}

DirWatch::Subscription::Subscription(DirWatch& w, std::string dir) : w_(w), dir_(std::move(dir)) {
  auto& e = w_.dirs_[dir_];
  if (e.refs++ == 0 && w_.fd_.is_open()) {
    e.wd = ::inotify_add_watch(w_.fd_.native_handle(), dir_.c_str(),
                               IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB);
    if (e.wd >= 0) w_.by_wd_[e.wd] = dir_;
  }
}

DirWatch::Subscription::~Subscription() {
  auto it = w_.dirs_.find(dir_);
  if (it == w_.dirs_.end() || --it->second.refs > 0) return;
  if (it->second.wd >= 0) {
    if (w_.fd_.is_open()) ::inotify_rm_watch(w_.fd_.native_handle(), it->second.wd);
    w_.by_wd_.erase(it->second.wd);
  }
  w_.dirs_.erase(it);
}

uint64_t DirWatch::Subscription::generation() const {
  return w_.dirs_.at(dir_).generation;
}

bool DirWatch::Subscription::notified() const {
  return w_.dirs_.at(dir_).wd >= 0;
}

asio::awaitable<void> DirWatch::Subscription::changed(uint64_t seen,
                                                      std::chrono::milliseconds timeout) {
  if (generation() != seen) co_return;
  asio::steady_timer t(w_.ioc_, timeout);
  w_.dirs_.at(dir_).waiters.push_back(&t);
  co_await t.async_wait(kTuple);
  auto& ws = w_.dirs_.at(dir_).waiters;
  ws.erase(std::remove(ws.begin(), ws.end(), &t), ws.end());
}

}  // namespace tend::agent
