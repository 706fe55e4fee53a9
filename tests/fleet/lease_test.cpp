// Leases against a real cluster: expiry removes the attached keys, a renewal is one request,
// the keeper holds a lease for many TTLs, and reports its loss.
#include "etcd/lease_keeper.hpp"
#include "fleet_fixture.hpp"

namespace tend::test {
namespace {

asio::awaitable<bool> exists(etcd::Client& c, const std::string& key) {
  etcd::RangeRequest q1_{key};
  auto r = co_await c.range(q1_);
  co_return r && !r->kvs.empty();
}

TEST_F(FleetTest, LeaseExpiryRemovesItsKeysAndRenewalsThenFail) {
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    auto g = co_await c->lease_grant(2);
    CO_ASSERT_OK(g);
    EXPECT_EQ(g->ttl, 2);
    EXPECT_NE(g->id, 0);
    etcd::PutRequest q2_{"machine/a", "x", g->id};
    auto r1_ = co_await c->put(q2_);
    CO_ASSERT_OK(r1_);
    etcd::RangeRequest q3_{"machine/a"};
    auto r = co_await c->range(q3_);
    CO_ASSERT_OK(r);
    CO_ASSERT_TRUE(r->kvs.size() == 1);
    EXPECT_EQ(r->kvs[0].lease, g->id);
    auto t0 = Clock::now();
    while (co_await exists(*c, "machine/a") && Clock::now() - t0 < 10s) co_await sleep_for(100ms);
    auto waited = Clock::now() - t0;
    EXPECT_FALSE(co_await exists(*c, "machine/a"));
    EXPECT_GE(waited, 1s);  // not before its TTL (minus the time the put took)
    EXPECT_LT(waited, 6s);  // and soon after it
    auto k = co_await c->lease_keepalive(g->id);
    CO_ASSERT_TRUE(!k);
    EXPECT_EQ(k.error().kind, etcd::ErrorKind::not_found) << k.error().message;
    auto rv = co_await c->lease_revoke(g->id);
    CO_ASSERT_TRUE(!rv);
    EXPECT_EQ(rv.error().kind, etcd::ErrorKind::not_found) << rv.error().message;
  });
}

TEST_F(FleetTest, OneKeepaliveIsOneRequestThatRestoresTheTtl) {
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    auto g = co_await c->lease_grant(5);
    CO_ASSERT_OK(g);
    auto before = c->counters().attempts;
    auto k = co_await c->lease_keepalive(g->id);
    CO_ASSERT_OK(k);
    EXPECT_EQ(k->id, g->id);
    EXPECT_EQ(k->ttl, 5);
    EXPECT_EQ(c->counters().attempts, before + 1);
    EXPECT_EQ(c->counters().keepalive, 1u);
    etcd::PutRequest q4_{"with-lease", "x", g->id};
    auto r2_ = co_await c->put(q4_);
    CO_ASSERT_OK(r2_);
    auto r3_ = co_await c->lease_revoke(g->id);
    CO_ASSERT_OK(r3_);
    EXPECT_FALSE(co_await exists(*c, "with-lease"));  // revoking deletes the attached keys
  });
}

TEST_F(FleetTest, KeeperHoldsALeaseForManyTtlsAndStopsOnRequest) {
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    auto g = co_await c->lease_grant(1);
    CO_ASSERT_OK(g);
    etcd::PutRequest q5_{"kept", "x", g->id};
    auto r4_ = co_await c->put(q5_);
    CO_ASSERT_OK(r4_);
    etcd::LeaseKeeper keeper(*c, g->id, std::chrono::seconds(1));
    std::optional<etcd::Result<uint64_t>> ended;
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { ended = co_await keeper.run(); }, asio::detached);
    for (int i = 0; i < 8; ++i) {  // 4 TTLs
      co_await sleep_for(500ms);
      EXPECT_TRUE(co_await exists(*c, "kept")) << "after " << (i + 1) * 500 << " ms";
    }
    CO_ASSERT_TRUE(!ended.has_value());
    keeper.stop();
    for (int i = 0; i < 50 && !ended; ++i) co_await sleep_for(10ms);
    CO_ASSERT_TRUE(ended.has_value());
    CO_ASSERT_OK(*ended);
    EXPECT_GE(**ended, 8u);  // every ttl/3 (333 ms) for 4 s
    EXPECT_LE(**ended, 20u);
    auto r5_ = co_await c->lease_revoke(g->id);
    CO_ASSERT_OK(r5_);
  });
}

TEST_F(FleetTest, KeeperReportsALeaseRevokedUnderIt) {
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    auto g = co_await c->lease_grant(3);
    CO_ASSERT_OK(g);
    etcd::LeaseKeeper keeper(*c, g->id, std::chrono::seconds(3));
    std::optional<etcd::Result<uint64_t>> ended;
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { ended = co_await keeper.run(); }, asio::detached);
    co_await sleep_for(300ms);
    auto r6_ = co_await c->lease_revoke(g->id);
    CO_ASSERT_OK(r6_);
    auto t0 = Clock::now();
    while (!ended && Clock::now() - t0 < 5s) co_await sleep_for(20ms);
    CO_ASSERT_TRUE(ended.has_value());
    CO_ASSERT_TRUE(!ended->ok());
    EXPECT_EQ(ended->error().kind, etcd::ErrorKind::not_found) << ended->error().message;
    EXPECT_LT(Clock::now() - t0, 2s);  // at the next renewal (every second)
  });
}

// With every member stopped, no renewal answers: the keeper reports the loss by the time the
// lease would have expired, not later.
TEST_F(FleetTest, KeeperReportsLossWhenNoMemberAnswersWithinTheTtl) {
  auto c = client(0, {.call_timeout = 1s, .attempt_timeout = 300ms});
  run([&]() -> asio::awaitable<void> {
    auto g = co_await c->lease_grant(2);
    CO_ASSERT_OK(g);
    etcd::LeaseKeeper keeper(*c, g->id, std::chrono::seconds(2));
    std::optional<etcd::Result<uint64_t>> ended;
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { ended = co_await keeper.run(); }, asio::detached);
    co_await sleep_for(200ms);
    for (int i = 0; i < 3; ++i) cluster->stop(i);
    auto t0 = Clock::now();
    while (!ended && Clock::now() - t0 < 6s) co_await sleep_for(20ms);
    for (int i = 0; i < 3; ++i) cluster->resume(i);
    CO_ASSERT_TRUE(ended.has_value());
    CO_ASSERT_TRUE(!ended->ok());
    EXPECT_TRUE(ended->error().kind == etcd::ErrorKind::timeout ||
                ended->error().kind == etcd::ErrorKind::unavailable)
        << ended->error().message;
    EXPECT_LE(Clock::now() - t0, 2500ms);  // the TTL from the last renewal, plus slack
  });
}

}  // namespace
}  // namespace tend::test
