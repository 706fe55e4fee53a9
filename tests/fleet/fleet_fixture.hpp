// The fixture of the fleet tests: a fresh 3-member etcd per test (EtcdCluster), clients on the
// test's io_context, and a way to run a test body as a coroutine. Without etcd the tests skip
// loudly, and fail under CI=true.
#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "etcd/client.hpp"
#include "etcd_cluster.hpp"
#include "require.hpp"

namespace tend::test {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using etcd::Millis;
using namespace std::chrono_literals;

// ASSERT for coroutine bodies (gtest's ASSERT_* returns, a coroutine must co_return).
#define CO_ASSERT_TRUE(cond)           \
  if (!(cond)) {                       \
    ADD_FAILURE() << "failed: " #cond; \
    co_return;                         \
  }
// `expr` is evaluated once (it may be a co_await) and copied: GCC 12 mishandles a reference
// extending a temporary across a suspension.
#define CO_ASSERT_OK(expr)                                                                   \
  {                                                                                          \
    auto co_result_ = (expr); /* a copy */                                                   \
    if (!co_result_) {                                                                       \
      ADD_FAILURE() << #expr " failed: " << etcd::to_string(co_result_.error().kind) << ": " \
                    << co_result_.error().message;                                           \
      co_return;                                                                             \
    }                                                                                        \
  }

inline asio::awaitable<void> sleep_for(Millis d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = EtcdCluster::missing(); !why.empty()) {
      if (in_ci()) FAIL() << "CI=true and the fleet tests cannot run: " << why;
      GTEST_SKIP() << "LOUD SKIP: " << why;
    }
    cluster.emplace();
    ASSERT_TRUE(cluster->ok()) << cluster->error();
  }
  void TearDown() override {
    cluster.reset();  // kills every member: the "nothing left" check below is then exact
  }

  // A client whose preferred endpoint is member `first` (the others follow in order).
  std::unique_ptr<etcd::Client> client(int first = 0, etcd::ClientOptions opts = {}) {
    auto urls = etcd::parse_endpoints(cluster->endpoints_from(first));
    EXPECT_TRUE(urls.ok());
    return std::make_unique<etcd::Client>(ioc.get_executor(), *urls, opts);
  }

  // Runs `body` (a coroutine) to its end, with everything else spawned on ioc.
  template <class Body>
  void run(Body body) {
    bool finished = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          co_await body();
          finished = true;
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    ioc.run();
    ioc.restart();
    EXPECT_TRUE(finished);
  }

  std::optional<EtcdCluster> cluster;
  asio::io_context ioc;
};

}  // namespace tend::test
