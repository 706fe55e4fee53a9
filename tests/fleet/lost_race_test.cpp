// The housekeeper's `lost` marking against a real etcd, with the agent's writes played by the
// test at chosen moments: a final report and the marking racing for one run end in exactly one
// final state, and a success is never overwritten (both are compare-and-swaps on the run
// record's mod_revision). Also: an unclaimed run of a gone machine is lost and can no longer be
// claimed; a machine that came back is not marked; a departure is noted before it is waited for.
#include <chrono>

#include "fleet/protocol.hpp"
#include "fleet_fixture.hpp"
#include "server/housekeeping.hpp"
#include "tend/time.hpp"

namespace tend::test {
namespace {

using etcd::Compare;
using server::Housekeeper;
using server::LostRun;

class LostRaceTest : public FleetTest {
 protected:
  fleet::Keys keys;

  // seen/NAME of a machine gone (no machines/NAME), unreachable since `ago` (none: not noted).
  asio::awaitable<void> gone(std::string name, std::optional<std::chrono::seconds> ago) {
    auto c = client();
    fleet::SeenRecord s{name, {}, "http://127.0.0.1:1", "test", "2026-01-01T00:00:00.000Z"};
    s.ttl = 2;
    if (ago) s.unreachable_since = format_rfc3339(std::chrono::system_clock::now() - *ago);
    etcd::PutRequest p{keys.seen_key(name), fleet::to_json(s).dump()};
    CO_ASSERT_OK(co_await c->put(p));
  }
  // What an agent does: the assignment, then (claimed) the claim with its run record `state`.
  // The claim's revision (the fencing token), 0 when not claimed.
  asio::awaitable<int64_t> assigned(etcd::Client& c, std::string id, std::string name,
                                    bool claimed) {
    etcd::PutRequest a{keys.assign_key(name, id), "{}"};
    auto put = co_await c.put(a);
    if (!put || !claimed) co_return 0;
    fleet::RunRecord run;
    run.state = fleet::run_state::running;
    run.started_at = "2026-01-01T00:00:00.000Z";
    etcd::TxnRequest t;
    t.compare = {Compare::absent(keys.claim_key(id, name))};
    t.success = {etcd::PutRequest{keys.claim_key(id, name), R"({"instance":"x:1"})"},
                 etcd::PutRequest{keys.run_key(id, name), fleet::to_json(run).dump()}};
    auto r = co_await c.txn(t);
    co_return r && r->succeeded ? r->header.revision : 0;
  }
  // The agent's final report: fenced by the claim and by the run record it last wrote.
  asio::awaitable<bool> report(etcd::Client& c, std::string id, std::string name, int64_t token,
                               int64_t run_mod, std::string state) {
    fleet::RunRecord run;
    run.state = state;
    run.exit_code = 0;
    etcd::TxnRequest t;
    t.compare = {Compare::number_of(keys.claim_key(id, name), Compare::Target::create_revision,
                                    Compare::Op::equal, token),
                 Compare::number_of(keys.run_key(id, name), Compare::Target::mod_revision,
                                    Compare::Op::equal, run_mod)};
    const std::string value = fleet::to_json(run).dump();
    t.success = {etcd::PutRequest{keys.run_key(id, name), value},
                 etcd::DeleteRequest{keys.assign_key(name, id)}};
    t.failure = {etcd::RangeRequest{keys.run_key(id, name)}};
    auto r = co_await c.txn(t);
    // Like the agent: a retried txn may fail on its own first success (a slow member).
    co_return r && (r->succeeded || etcd::applied_by_earlier_attempt(*r, 0, value));
  }
  asio::awaitable<std::string> state_of(etcd::Client& c, std::string id, std::string name) {
    auto r = co_await fleet_run_state(c, id, name);
    co_return r ? r->state : "(none)";
  }
  asio::awaitable<std::optional<fleet::RunRecord>> fleet_run_state(etcd::Client& c, std::string id,
                                                                   std::string name) {
    etcd::RangeRequest q{keys.run_key(id, name)};
    auto r = co_await c.range(q);
    if (!r || r->kvs.empty()) co_return std::nullopt;
    auto rec = fleet::run_from_json(r->kvs.front().value);
    co_return rec ? std::optional<fleet::RunRecord>(*rec) : std::nullopt;
  }
};

// The report lands between the housekeeper's read and its write: the write fails, the success
// stays, and no later round touches it.
TEST_F(LostRaceTest, AReportThatLandsFirstIsNeverOverwritten) {
  run([&]() -> asio::awaitable<void> {
    auto c = client();
    co_await gone("m1", std::chrono::seconds(60));
    int64_t token = co_await assigned(*c, "J1", "m1", true);
    CO_ASSERT_TRUE(token > 0);
    Housekeeper h(*c, keys, 4s);
    auto found = co_await h.find_lost();
    CO_ASSERT_OK(found);
    CO_ASSERT_TRUE(found->size() == 1u);
    EXPECT_EQ(found->front().run_mod, token);
    EXPECT_TRUE(co_await report(*c, "J1", "m1", token, token, "succeeded"));
    auto marked = co_await h.mark(found->front());
    CO_ASSERT_OK(marked);
    EXPECT_FALSE(*marked) << "the housekeeper overwrote a reported success";
    EXPECT_EQ(co_await state_of(*c, "J1", "m1"), "succeeded");
    auto again = co_await h.round();
    CO_ASSERT_OK(again);
    EXPECT_EQ(*again, 0);
    EXPECT_EQ(co_await state_of(*c, "J1", "m1"), "succeeded");
  });
}

// The marking lands first: the agent's report (fenced by the record it last wrote) fails; the
// run is lost, saying why.
TEST_F(LostRaceTest, AMarkThatLandsFirstMakesTheLateReportFail) {
  run([&]() -> asio::awaitable<void> {
    auto c = client();
    co_await gone("m1", std::chrono::seconds(60));
    int64_t token = co_await assigned(*c, "J1", "m1", true);
    CO_ASSERT_TRUE(token > 0);
    Housekeeper h(*c, keys, 4s);
    auto n = co_await h.round();
    CO_ASSERT_OK(n);
    EXPECT_EQ(*n, 1);
    EXPECT_FALSE(co_await report(*c, "J1", "m1", token, token, "succeeded"));
    auto rec = co_await fleet_run_state(*c, "J1", "m1");
    CO_ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->state, "lost");
    EXPECT_EQ(rec->error.value_or(""), "machine m1 unreachable for more than 4s");
    EXPECT_EQ(rec->started_at.value_or(""), "2026-01-01T00:00:00.000Z") << "what was known is kept";
    EXPECT_TRUE(rec->finished_at.has_value());
    // The assignment goes with the mark, claimed or not: a machine that never returns leaves
    // nothing assigned (its returning agent finds the run by what it tracks or runs locally).
    etcd::RangeRequest q{keys.assign_key("m1", "J1")};
    auto a = co_await c->range(q);
    CO_ASSERT_OK(a);
    EXPECT_EQ(a->kvs.size(), 0u);
    auto again = co_await h.round();
    CO_ASSERT_OK(again);
    EXPECT_EQ(*again, 0) << "a lost run was marked twice";
  });
}

// Both at once, many runs: the housekeeper has read them all running and marks them J0, J1, …
// while the agent reports them J39, J38, …: they meet somewhere. Each run ends in exactly one
// final state, either the agent's report (the marking of it failed) or lost (the report failed).
TEST_F(LostRaceTest, ReportsAndMarkingAtOnceEndInExactlyOneFinalStateEach) {
  constexpr int kRuns = 40;
  run([&]() -> asio::awaitable<void> {
    auto c = client(0), agent = client(1);
    co_await gone("m1", std::chrono::seconds(60));
    std::vector<int64_t> tokens;
    for (int i = 0; i < kRuns; ++i)
      tokens.push_back(co_await assigned(*c, "J" + std::to_string(i), "m1", true));
    Housekeeper h(*c, keys, 4s);
    auto found = co_await h.find_lost();
    CO_ASSERT_OK(found);
    CO_ASSERT_TRUE(found->size() == size_t(kRuns));
    int reported = 0, marked = 0;
    bool reports_done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          for (int i = kRuns - 1; i >= 0; --i)
            reported += co_await report(*agent, "J" + std::to_string(i), "m1", tokens[i], tokens[i],
                                        "succeeded");
          reports_done = true;
        },
        asio::detached);
    for (const LostRun& l : *found) {
      auto m = co_await h.mark(l);
      CO_ASSERT_OK(m);
      marked += *m;
    }
    while (!reports_done) co_await sleep_for(20ms);
    int succeeded = 0, lost = 0;
    for (int i = 0; i < kRuns; ++i) {
      std::string s = co_await state_of(*c, "J" + std::to_string(i), "m1");
      succeeded += s == "succeeded";
      lost += s == "lost";
    }
    std::printf("[ figures ] %d runs: %d reported by the agent, %d marked lost\n", kRuns, reported,
                marked);
    EXPECT_EQ(reported + marked, kRuns) << "a run with two final writes, or none";
    EXPECT_EQ(succeeded, reported);
    EXPECT_EQ(lost, marked);
  });
}

// Never claimed: lost ("it never started") and its assignment deleted, so the agent's claim
// (which requires the assignment it saw) fails when it returns: the run can never start.
TEST_F(LostRaceTest, AnUnclaimedRunBecomesLostAndCanNoLongerBeClaimed) {
  run([&]() -> asio::awaitable<void> {
    auto c = client();
    co_await gone("m1", std::chrono::seconds(60));
    (void)co_await assigned(*c, "J1", "m1", false);
    etcd::RangeRequest aq{keys.assign_key("m1", "J1")};
    auto a = co_await c->range(aq);
    CO_ASSERT_OK(a);
    CO_ASSERT_TRUE(a->kvs.size() == 1u);
    const int64_t assign_mod = a->kvs.front().mod_revision;
    Housekeeper h(*c, keys, 4s);
    auto n = co_await h.round();
    CO_ASSERT_OK(n);
    EXPECT_EQ(*n, 1);
    auto rec = co_await fleet_run_state(*c, "J1", "m1");
    CO_ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->state, "lost");
    EXPECT_EQ(rec->error.value_or(""), "machine m1 unreachable for more than 4s; it never started");
    etcd::TxnRequest claim;
    claim.compare = {Compare::absent(keys.claim_key("J1", "m1")),
                     Compare::number_of(keys.assign_key("m1", "J1"), Compare::Target::mod_revision,
                                        Compare::Op::equal, assign_mod)};
    claim.success = {etcd::PutRequest{keys.claim_key("J1", "m1"), R"({"instance":"x:1"})"}};
    auto won = co_await c->txn(claim);
    CO_ASSERT_OK(won);
    EXPECT_FALSE(won->succeeded) << "a lost run could still be claimed";
  });
}

// The machine registers again between the read and the write: nothing is marked.
TEST_F(LostRaceTest, AMachineThatCameBackIsNotMarked) {
  run([&]() -> asio::awaitable<void> {
    auto c = client();
    co_await gone("m1", std::chrono::seconds(60));
    CO_ASSERT_TRUE(co_await assigned(*c, "J1", "m1", true) > 0);
    Housekeeper h(*c, keys, 4s);
    auto found = co_await h.find_lost();
    CO_ASSERT_OK(found);
    CO_ASSERT_TRUE(found->size() == 1u);
    etcd::PutRequest back{keys.machine_key("m1"), R"({"name":"m1","instance":"x:2"})"};
    CO_ASSERT_OK(co_await c->put(back));
    auto marked = co_await h.mark(found->front());
    CO_ASSERT_OK(marked);
    EXPECT_FALSE(*marked);
    EXPECT_EQ(co_await state_of(*c, "J1", "m1"), "running");
  });
}

// A departure nobody noted is noted first (unreachable_since = now), then waited for whole.
TEST_F(LostRaceTest, ADepartureIsNotedThenWaitedFor) {
  run([&]() -> asio::awaitable<void> {
    auto c = client();
    co_await gone("m1", std::nullopt);
    CO_ASSERT_TRUE(co_await assigned(*c, "J1", "m1", true) > 0);
    Housekeeper h(*c, keys, 2s);
    auto n = co_await h.round();
    CO_ASSERT_OK(n);
    EXPECT_EQ(*n, 0) << "marked before --lost-after had passed";
    etcd::RangeRequest q{keys.seen_key("m1")};
    auto s = co_await c->range(q);
    CO_ASSERT_OK(s);
    CO_ASSERT_TRUE(s->kvs.size() == 1u);
    auto seen = fleet::seen_from_json(s->kvs.front().value);
    CO_ASSERT_TRUE(seen && seen->unreachable_since.has_value());
    EXPECT_EQ(co_await state_of(*c, "J1", "m1"), "running");
    co_await sleep_for(2500ms);
    n = co_await h.round();
    CO_ASSERT_OK(n);
    EXPECT_EQ(*n, 1);
    EXPECT_EQ(co_await state_of(*c, "J1", "m1"), "lost");
  });
}

}  // namespace
}  // namespace tend::test
