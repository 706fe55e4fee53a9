#include "etcd/lease_keeper.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tend::etcd {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

LeaseKeeper::LeaseKeeper(Client& client, int64_t lease_id, std::chrono::seconds ttl)
    : client_(client),
      id_(lease_id),
      ttl_(ttl),
      timer_(client.executor()),
      expires_at_(Clock::now() + ttl) {}

void LeaseKeeper::stop() {
  stopped_ = true;
  timer_.cancel();
}

asio::awaitable<Result<uint64_t>> LeaseKeeper::run() {
  const Millis period = std::max<Millis>(std::chrono::duration_cast<Millis>(ttl_) / 3, 100ms);
  Clock::time_point next = Clock::now();
  while (!stopped_) {
    auto now = Clock::now();
    if (now >= expires_at_)
      co_return Error{ErrorKind::timeout, "etcd lease " + std::to_string(id_) +
                                              " expired: no renewal succeeded in time"};
    // Each try is bounded by the period and by the expiry (a late success changes nothing).
    auto budget = std::min<Millis>(period, std::chrono::duration_cast<Millis>(expires_at_ - now));
    auto sent = Clock::now();
    auto r = co_await client_.lease_keepalive(id_, std::max<Millis>(budget, 1ms));
    if (r) {
      ++renewals_;
      expires_at_ = sent + std::chrono::seconds(r->ttl);
      next = sent + period;
    } else if (r.error().kind == ErrorKind::not_found) {
      co_return r.error();
    } else {
      next = Clock::now() + std::min<Millis>(period / 4, 250ms);  // try again soon
    }
    if (stopped_) break;
    timer_.expires_at(std::min(next, expires_at_));
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return renewals_;
}

}  // namespace tend::etcd
