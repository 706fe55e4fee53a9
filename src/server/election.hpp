// One housekeeper among the servers of a fleet: the one that holds `housekeeper` in etcd, a key
// on its own lease created by a txn only if absent. The others check it every second and
// campaign when it is gone; a killed leader's lease lapses (its TTL) and another takes over; a
// stopped one revokes it (another takes over at once). The housekeeping is correct without the
// election (its writes are compare-and-swaps): it only keeps N servers from doing it N times.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "etcd/client.hpp"
#include "etcd/lease_keeper.hpp"

namespace tend::server {

class Election {
 public:
  Election(etcd::Client& c, std::string key, std::string who, std::chrono::seconds ttl);

  // Campaigns until stop(); while elected, awaits `work` every `interval`.
  boost::asio::awaitable<void> run(std::function<boost::asio::awaitable<void>()> work,
                                   std::chrono::milliseconds interval);
  // Ends run() at its next wait (and gives the key up).
  void stop();
  bool leading() const { return leading_; }
  uint64_t terms() const { return terms_; }  // times this server was elected

 private:
  boost::asio::awaitable<bool> campaign();
  boost::asio::awaitable<void> pause(std::chrono::milliseconds d);

  etcd::Client& etcd_;
  std::string key_, who_;
  std::chrono::seconds ttl_;
  boost::asio::steady_timer timer_;
  etcd::LeaseKeeper* keeper_ = nullptr;
  int64_t lease_ = 0;
  bool stopped_ = false, leading_ = false;
  uint64_t terms_ = 0;
};

}  // namespace tend::server
