// Waits for changes in job directories, for every output follower at once: one inotify fd on
// the server's io_context, one watch per directory however many followers it has. A follower
// notes generation(), reads, and then waits for the generation to move on (or a timeout).
// Without inotify (limits reached) waits simply time out: followers then poll, still correct.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tend::agent {

class DirWatch {
 public:
  explicit DirWatch(boost::asio::io_context& ioc);
  ~DirWatch();
  // Stops reading events (the server is stopping); waits in progress time out as usual.
  void close();

  // A follower's interest in one directory, released by its destructor.
  class Subscription {
   public:
    Subscription(DirWatch& w, std::string dir);
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    // Changes seen so far in the directory.
    uint64_t generation() const;
    // Returns once the generation differs from `seen`, or after `timeout`.
    boost::asio::awaitable<void> changed(uint64_t seen, std::chrono::milliseconds timeout);
    // True if changes are notified (else only timeouts end a wait).
    bool notified() const;

   private:
    DirWatch& w_;
    std::string dir_;
  };

 private:
  struct Entry {
    int wd = -1;
    int refs = 0;
    uint64_t generation = 0;
    std::vector<boost::asio::steady_timer*> waiters;
  };
  boost::asio::awaitable<void> read_events();
  void handle_events(const char* data, size_t n);
  void bump(Entry& e);

  boost::asio::io_context& ioc_;
  boost::asio::posix::stream_descriptor fd_;
  std::map<std::string, Entry> dirs_;
  std::map<int, std::string> by_wd_;
};

}  // namespace tend::agent
