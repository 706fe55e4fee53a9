// Keys and values against a real cluster: put/range/delete with their revisions, binary bytes,
// prefixes, transactions (every compare kind) and the create-if-absent claim under contention.
#include <set>

#include "fleet_fixture.hpp"

namespace tend::test {
namespace {

using etcd::Compare;
using etcd::DeleteRequest;
using etcd::PutRequest;
using etcd::RangeRequest;

TEST_F(FleetTest, PutRangeDeleteCarryRevisionsAndVersions) {
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    const std::string key = std::string("k/\0\xff bin", 8);
    const std::string value = std::string("v\0\x01\xfe", 4);
    etcd::PutRequest q6_{key, value};
    auto p1 = co_await c->put(q6_);
    CO_ASSERT_OK(p1);
    etcd::PutRequest q7_{key, "second", 0, true};
    auto p2 = co_await c->put(q7_);
    CO_ASSERT_OK(p2);
    EXPECT_EQ(p2->header.revision, p1->header.revision + 1);
    CO_ASSERT_TRUE(p2->prev_kv.has_value());
    EXPECT_EQ(p2->prev_kv->value, value);  // binary bytes survive base64 both ways

    etcd::RangeRequest q8_{key};
    auto r = co_await c->range(q8_);
    CO_ASSERT_OK(r);
    CO_ASSERT_TRUE(r->kvs.size() == 1);
    EXPECT_EQ(r->kvs[0].key, key);
    EXPECT_EQ(r->kvs[0].value, "second");
    EXPECT_EQ(r->kvs[0].create_revision, p1->header.revision);
    EXPECT_EQ(r->kvs[0].mod_revision, p2->header.revision);
    EXPECT_EQ(r->kvs[0].version, 2);
    EXPECT_EQ(r->kvs[0].lease, 0);
    EXPECT_EQ(r->count, 1);
    EXPECT_EQ(r->header.revision, p2->header.revision);

    // The old value is still readable at its revision (until compacted).
    etcd::RangeRequest q9_{.key = key, .revision = p1->header.revision};
    auto old = co_await c->range(q9_);
    CO_ASSERT_OK(old);
    CO_ASSERT_TRUE(old->kvs.size() == 1);
    EXPECT_EQ(old->kvs[0].value, value);

    // A named vector: GCC 12 loses a braced list's array across a co_await in a range-for.
    const std::vector<std::string> keys = {"p/a", "p/b", "p/c", "q"};
    for (const auto& k : keys) {
      etcd::PutRequest req{k, k};
      auto put = co_await c->put(req);
      CO_ASSERT_OK(put);
    }
    etcd::RangeRequest q10_{.key = "p/", .range_end = etcd::prefix_end("p/")};
    auto pre = co_await c->range(q10_);
    CO_ASSERT_OK(pre);
    CO_ASSERT_TRUE(pre->kvs.size() == 3);
    EXPECT_EQ(pre->kvs[0].key, "p/a");
    EXPECT_EQ(pre->kvs[2].key, "p/c");
    etcd::RangeRequest q11_{.key = "p/", .range_end = etcd::prefix_end("p/"), .limit = 2};
    auto limited = co_await c->range(q11_);
    CO_ASSERT_OK(limited);
    EXPECT_EQ(limited->kvs.size(), 2u);
    EXPECT_TRUE(limited->more);
    EXPECT_EQ(limited->count, 3);

    etcd::DeleteRequest q12_{"p/", etcd::prefix_end("p/"), true};
    auto d = co_await c->delete_range(q12_);
    CO_ASSERT_OK(d);
    EXPECT_EQ(d->deleted, 3);
    EXPECT_EQ(d->prev_kvs.size(), 3u);
    etcd::RangeRequest q13_{.key = "p/", .range_end = etcd::prefix_end("p/")};
    auto gone = co_await c->range(q13_);
    CO_ASSERT_OK(gone);
    EXPECT_TRUE(gone->kvs.empty());
    EXPECT_EQ(gone->count, 0);
    etcd::DeleteRequest q14_{"never"};
    auto none = co_await c->delete_range(q14_);
    CO_ASSERT_OK(none);
    EXPECT_EQ(none->deleted, 0);
  });
  EXPECT_EQ(c->counters().put, 6u);
  EXPECT_EQ(c->counters().delete_range, 2u);
  EXPECT_EQ(c->counters().writes(), 8u);
  EXPECT_EQ(c->counters().failed_calls, 0u);
}

TEST_F(FleetTest, TxnComparesEveryTargetAndRunsTheRightBranch) {
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    etcd::PutRequest q15_{"t", "v1"};
    auto p = co_await c->put(q15_);
    CO_ASSERT_OK(p);
    int64_t rev = p->header.revision;
    using T = Compare::Target;
    using O = Compare::Op;
    struct Case {
      Compare cmp;
      bool holds;
    } cases[] = {
        {Compare::value_of("t", O::equal, "v1"), true},
        {Compare::value_of("t", O::not_equal, "v1"), false},
        {Compare::value_of("t", O::greater, "v0"), true},
        {Compare::value_of("t", O::less, "v0"), false},
        {Compare::number_of("t", T::version, O::equal, 1), true},
        {Compare::number_of("t", T::version, O::greater, 1), false},
        {Compare::number_of("t", T::create_revision, O::equal, rev), true},
        {Compare::number_of("t", T::mod_revision, O::less, rev + 1), true},
        {Compare::number_of("t", T::mod_revision, O::not_equal, rev), false},
        {Compare::absent("t"), false},
        {Compare::absent("nope"), true},
    };
    for (const auto& k : cases) {
      etcd::TxnRequest t{{k.cmp}, {RangeRequest{"t"}}, {DeleteRequest{"none"}}};
      auto r = co_await c->txn(t);
      CO_ASSERT_OK(r);
      EXPECT_EQ(r->succeeded, k.holds)
          << k.cmp.key << " target " << int(k.cmp.target) << " op " << int(k.cmp.op);
      CO_ASSERT_TRUE(r->responses.size() == 1);
      if (k.holds)
        EXPECT_TRUE(std::holds_alternative<etcd::RangeResult>(r->responses[0]));
      else
        EXPECT_TRUE(std::holds_alternative<etcd::DeleteResult>(r->responses[0]));
    }
  });
}

// Several ranges in one round trip (a txn of ranges only): every answer read at one revision,
// a historical revision honoured, and counted as a read (read_txn), not a write.
TEST_F(FleetTest, RangesReadSeveralPrefixesAtOneRevisionAndWriteNothing) {
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    etcd::PutRequest a{"r/a/1", "x"}, b{"r/b/1", "y"}, b2{"r/b/2", "z"};
    CO_ASSERT_OK(co_await c->put(a));
    auto first = co_await c->put(b);
    CO_ASSERT_OK(first);
    CO_ASSERT_OK(co_await c->put(b2));
    std::vector<RangeRequest> now = {
        RangeRequest{.key = "r/a/", .range_end = etcd::prefix_end("r/a/")},
        RangeRequest{.key = "r/b/", .range_end = etcd::prefix_end("r/b/")}, RangeRequest{"r/none"}};
    auto got = co_await c->ranges(now);
    CO_ASSERT_OK(got);
    CO_ASSERT_TRUE(got->size() == 3);
    EXPECT_EQ((*got)[0].kvs.size(), 1u);
    EXPECT_EQ((*got)[1].kvs.size(), 2u);
    EXPECT_TRUE((*got)[2].kvs.empty());
    EXPECT_EQ((*got)[0].header.revision, (*got)[1].header.revision);
    EXPECT_EQ((*got)[1].header.revision, first->header.revision + 1);
    // At the revision of the first put to r/b/: one key there.
    std::vector<RangeRequest> then = {RangeRequest{
        .key = "r/b/", .range_end = etcd::prefix_end("r/b/"), .revision = first->header.revision}};
    auto old = co_await c->ranges(then);
    CO_ASSERT_OK(old);
    CO_ASSERT_TRUE(old->size() == 1);
    EXPECT_EQ((*old)[0].kvs.size(), 1u);
  });
  EXPECT_EQ(c->counters().read_txn, 2u);
  EXPECT_EQ(c->counters().txn, 0u);
  EXPECT_EQ(c->counters().writes(), 3u);  // the puts only
}

// N clients, each on its own preferred member, race to create one key: exactly one wins, and
// every loser's failure branch reads the winner's value.
TEST_F(FleetTest, ExactlyOneOfConcurrentCreatorsWins) {
  constexpr int kN = 12;
  std::vector<std::unique_ptr<etcd::Client>> clients;
  for (int i = 0; i < kN; ++i) clients.push_back(client(i % 3));
  std::vector<std::optional<etcd::Result<etcd::TxnResult>>> results(kN);
  run([&]() -> asio::awaitable<void> {
    int done = 0;
    for (int i = 0; i < kN; ++i)
      asio::co_spawn(
          ioc,
          [&, i]() -> asio::awaitable<void> {
            etcd::TxnRequest t{{Compare::absent("claim")},
                               {PutRequest{"claim", "owner-" + std::to_string(i)}},
                               {RangeRequest{"claim"}}};
            results[i] = co_await clients[i]->txn(t);
            ++done;
          },
          asio::detached);
    while (done < kN) co_await sleep_for(10ms);
  });
  // A creator won when its txn succeeded, or when it failed and reads its own value: a txn that
  // timed out on a slow member is retried on the next, where the compare fails on its own first
  // success (the client's documented contract).
  auto seen_by = [&](int i) -> std::string {
    const auto& r = **results[i];
    if (r.responses.size() != 1u) return "";
    const auto& seen = std::get<etcd::RangeResult>(r.responses[0]);
    return seen.kvs.size() == 1u ? seen.kvs[0].value : "";
  };
  int winners = 0;
  std::string winner;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(results[i].has_value());
    ASSERT_TRUE(results[i]->ok()) << results[i]->error().message;
    const std::string mine = "owner-" + std::to_string(i);
    if ((*results[i])->succeeded || seen_by(i) == mine) {
      ++winners;
      winner = mine;
    }
  }
  ASSERT_EQ(winners, 1);
  for (int i = 0; i < kN; ++i) {
    if (!(*results[i])->succeeded) {
      EXPECT_EQ(seen_by(i), winner) << "creator " << i;
    }
  }
}

TEST_F(FleetTest, StatusNamesOneLeaderThatAllMembersAgreeOn) {
  auto leader = cluster->leader();
  ASSERT_TRUE(leader.has_value());
  auto c = client();
  run([&]() -> asio::awaitable<void> {
    for (size_t i = 0; i < 3; ++i) {
      auto s = co_await c->status_of(i);
      CO_ASSERT_OK(s);
      EXPECT_EQ(s->version.substr(0, 2), "3.");
      EXPECT_NE(s->leader, 0u);
      EXPECT_TRUE(s->errors.empty());
    }
  });
}

}  // namespace
}  // namespace tend::test
