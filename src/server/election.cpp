#include "server/election.hpp"

#include <cstdio>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tend::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {
void log(const std::string& line) {
  std::fprintf(stderr, "tend server: housekeeping: %s\n", line.c_str());
}
}  // namespace

Election::Election(etcd::Client& c, std::string key, std::string who, std::chrono::seconds ttl)
    : etcd_(c), key_(std::move(key)), who_(std::move(who)), ttl_(ttl), timer_(c.executor()) {}

void Election::stop() {
  stopped_ = true;
  if (keeper_) keeper_->stop();
  timer_.cancel();
}

asio::awaitable<void> Election::pause(std::chrono::milliseconds d) {
  timer_.expires_after(d);
  co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
}

// A read while someone holds the key (no lease granted for nothing); then the create-if-absent.
asio::awaitable<bool> Election::campaign() {
  etcd::RangeRequest q{key_};
  q.keys_only = true;
  auto held = co_await etcd_.range(q, 3s);
  if (!held || !held->kvs.empty()) co_return false;
  auto grant = co_await etcd_.lease_grant(ttl_.count(), 3s);
  if (!grant) co_return false;
  etcd::TxnRequest t;
  t.compare = {etcd::Compare::absent(key_)};
  t.success = {etcd::PutRequest{key_, who_, grant->id}};
  auto r = co_await etcd_.txn(t, 3s);
  if (r && r->succeeded) {
    lease_ = grant->id;
    co_return true;
  }
  // Someone else won (or no answer: a late success of ours dies with the lease).
  (void)co_await etcd_.lease_revoke(grant->id, 2s);
  co_return false;
}

asio::awaitable<void> Election::run(std::function<asio::awaitable<void>()> work,
                                    std::chrono::milliseconds interval) {
  while (!stopped_) {
    if (!co_await campaign()) {
      co_await pause(1s);
      continue;
    }
    ++terms_;
    log("this server is the housekeeper (" + key_ + ")");
    auto keeper = std::make_shared<etcd::LeaseKeeper>(etcd_, lease_, ttl_);
    auto lost = std::make_shared<bool>(false);
    keeper_ = keeper.get();
    asio::co_spawn(
        etcd_.executor(),
        [keeper, lost]() -> asio::awaitable<void> {
          (void)co_await keeper->run();
          *lost = true;
        },
        asio::detached);
    leading_ = true;
    while (!stopped_ && !*lost && Clock::now() < keeper->expires_at()) {
      co_await work();
      co_await pause(interval);
    }
    leading_ = false;
    keeper->stop();
    keeper_ = nullptr;
    if (stopped_) {
      (void)co_await etcd_.lease_revoke(lease_, 2s);  // another server takes over at once
      break;
    }
    log("lost the housekeeper's lease: campaigning again");
  }
}

}  // namespace tend::server
