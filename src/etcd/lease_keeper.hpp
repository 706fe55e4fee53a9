// Keeps a lease alive: a renewal every ttl/3, each one a single keepalive call bounded by ttl/3
// and rotating endpoints. The lease is reported lost when etcd says it no longer exists, or when
// no renewal succeeded before the moment it would have expired (measured from the send of the
// last successful renewal plus the TTL it returned): from then on, the keys attached to it must
// be taken as gone.
#pragma once

#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "etcd/client.hpp"

namespace tend::etcd {

class LeaseKeeper {
 public:
  LeaseKeeper(Client& client, int64_t lease_id, std::chrono::seconds ttl);

  // Renews until stop() (→ the number of renewals made) or the lease is lost (→ the Error:
  // not_found when etcd said so, timeout/unavailable when it could not be renewed in time).
  boost::asio::awaitable<Result<uint64_t>> run();
  // Ends run() at its next wait (at once when it is waiting between renewals).
  void stop();

  int64_t id() const { return id_; }
  uint64_t renewals() const { return renewals_; }
  // When the lease expires unless renewed again (steady clock; a lower bound of etcd's view).
  std::chrono::steady_clock::time_point expires_at() const { return expires_at_; }

 private:
  Client& client_;
  int64_t id_;
  std::chrono::seconds ttl_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  uint64_t renewals_ = 0;
  std::chrono::steady_clock::time_point expires_at_;
};

}  // namespace tend::etcd
