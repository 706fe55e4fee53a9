// Faults of the cluster as a client sees them: a dead first endpoint, a lost quorum (writes
// must fail within their deadline, not hang, and work again once quorum is back), a leader
// killed during writes.
#include <set>

#include "fleet_fixture.hpp"

namespace tend::test {
namespace {

TEST_F(FleetTest, DeadFirstEndpointIsSkippedAtOnce) {
  // A follower: killing the leader would add an election to the wait, which is not the point.
  auto leader = cluster->leader();
  ASSERT_TRUE(leader.has_value());
  int dead = (*leader + 1) % 3;
  cluster->kill(dead);
  auto c = client(dead);
  run([&]() -> asio::awaitable<void> {
    auto t0 = Clock::now();
    etcd::PutRequest q26_{"k", "v"};
    auto p = co_await c->put(q26_);
    CO_ASSERT_OK(p);
    EXPECT_LT(Clock::now() - t0, 1s);  // refused at once: no waiting for a deadline
    EXPECT_EQ(c->counters().rotations, 1u);
    EXPECT_EQ(c->counters().attempts, 2u);
    EXPECT_EQ(c->preferred(), 1u);  // index in the client's list: the next member
    // The next call goes straight to the member that answered.
    etcd::RangeRequest q27_{"k"};
    auto r9_ = co_await c->range(q27_);
    CO_ASSERT_OK(r9_);
    EXPECT_EQ(c->counters().attempts, 3u);
  });
}

// A stopped (silent) first member costs one attempt's share, then the next answers.
TEST_F(FleetTest, SilentFirstEndpointCostsOneAttemptTimeout) {
  cluster->stop(0);
  auto c = client(0, {.call_timeout = 5s, .attempt_timeout = 500ms});
  run([&]() -> asio::awaitable<void> {
    auto t0 = Clock::now();
    etcd::PutRequest q28_{"k", "v"};
    auto p = co_await c->put(q28_);
    auto took = Clock::now() - t0;
    cluster->resume(0);
    CO_ASSERT_OK(p);
    EXPECT_GE(took, 450ms);
    EXPECT_LT(took, 3s);
    EXPECT_GE(c->counters().rotations, 1u);
  });
}

// 2 of 3 members killed: the survivor has no quorum and a write there hangs until etcd's own
// 7 s request timeout. The client's deadline fires first and says unavailable/timeout; reads
// that may be stale still work (serializable). Once a member returns, writes work again.
TEST_F(FleetTest, WithoutQuorumWritesFailWithinTheDeadlineAndRecover) {
  cluster->kill(1);
  cluster->kill(2);
  auto c = client(0, {.call_timeout = 2s, .attempt_timeout = 2s});
  run([&]() -> asio::awaitable<void> {
    auto t0 = Clock::now();
    etcd::PutRequest q29_{"k", "v"};
    auto p = co_await c->put(q29_);
    auto took = Clock::now() - t0;
    CO_ASSERT_TRUE(!p);
    EXPECT_TRUE(p.error().kind == etcd::ErrorKind::timeout ||
                p.error().kind == etcd::ErrorKind::unavailable)
        << p.error().message;
    EXPECT_GE(took, 1900ms);
    EXPECT_LT(took, 3500ms);  // the deadline, not etcd's 7 s and not a hang

    etcd::TxnRequest claim{{etcd::Compare::absent("claim")}, {etcd::PutRequest{"claim", "x"}}, {}};
    auto txn = co_await c->txn(claim);
    CO_ASSERT_TRUE(!txn);
    auto lease = co_await c->lease_grant(5);
    CO_ASSERT_TRUE(!lease);
    etcd::RangeRequest q30_{.key = "k", .serializable = true};
    auto stale = co_await c->range(q30_);
    CO_ASSERT_OK(stale);

    cluster->restart(1);
    auto back = Clock::now();
    etcd::Result<etcd::PutResult> again = etcd::Error{};
    while (Clock::now() - back < 20s) {
      etcd::PutRequest q31_{"k", "after"};
      again = co_await c->put(q31_);
      if (again) break;
    }
    CO_ASSERT_OK(again);
    etcd::RangeRequest q32_{"k"};
    auto r = co_await c->range(q32_);
    CO_ASSERT_OK(r);
    CO_ASSERT_TRUE(r->kvs.size() == 1);
    EXPECT_EQ(r->kvs[0].value, "after");
  });
  EXPECT_GE(c->counters().failed_calls, 3u);
}

// The leader is killed during a burst of writes through a client that knows every member:
// each write succeeds (after an election) or fails with a kind within its deadline; the
// writes that succeeded are all there, with distinct revisions.
TEST_F(FleetTest, LeaderKilledDuringWritesLosesNoAcknowledgedWrite) {
  auto leader = cluster->leader();
  ASSERT_TRUE(leader.has_value());
  auto c = client(*leader, {.call_timeout = 8s, .attempt_timeout = 2s});
  std::vector<std::string> acked;
  std::set<int64_t> revisions;
  run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 40; ++i) {
      if (i == 10) cluster->kill(*leader);
      auto t0 = Clock::now();
      etcd::PutRequest q33_{"burst/" + std::to_string(i), "v"};
      auto p = co_await c->put(q33_);
      EXPECT_LT(Clock::now() - t0, 9s);
      if (p) {
        acked.push_back("burst/" + std::to_string(i));
        revisions.insert(p->header.revision);
      } else {
        EXPECT_TRUE(p.error().kind == etcd::ErrorKind::timeout ||
                    p.error().kind == etcd::ErrorKind::unavailable)
            << p.error().message;
      }
    }
    etcd::RangeRequest q34_{.key = "burst/", .range_end = etcd::prefix_end("burst/")};
    auto r = co_await c->range(q34_);
    CO_ASSERT_OK(r);
    std::set<std::string> present;
    for (const auto& kv : r->kvs) present.insert(kv.key);
    for (const auto& k : acked) EXPECT_TRUE(present.count(k)) << k;
  });
  EXPECT_EQ(revisions.size(), acked.size());
  EXPECT_GE(acked.size(), 35u);  // a new leader within the 8 s deadline: at most a few fail
  auto next = cluster->leader();
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(*next, *leader);
}

TEST_F(FleetTest, HarnessLeavesNoProcessBehind) {
  EXPECT_EQ(cluster->alive(), 3);
  cluster->stop(2);
  cluster->kill(1);
  EXPECT_EQ(cluster->alive(), 2);
  cluster.reset();  // a stopped member is killed too
  // The members were our children: none may be left, as a process or a zombie.
  EXPECT_EQ(::system("pgrep -P $PPID -x etcd >/dev/null 2>&1") == 0, false);
}

}  // namespace
}  // namespace tend::test
