// `tend agent --etcd`: real agents (processes on 127.0.0.11-13, their own data directories and
// labels) against a real 3-member etcd, jobs submitted by writing jobs/ID + assignments as a
// server would. Each test asserts outcomes: runs counted in a ledger file every run appends to,
// states and exit codes in etcd, processes left, etcd writes per run.

#include <fstream>
#include <sstream>
#include <thread>

#include "fleet_agents.hpp"
#include "fleet_fixture.hpp"

namespace tend::test {
namespace {

using json = nlohmann::json;

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(read_text(path));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class FleetAgentTest : public FleetTest {
 protected:
  void SetUp() override {
    FleetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    agents.emplace(cluster->endpoints());
    c = client();
    ledger = agents->dir() + "/ledger";
  }
  void TearDown() override {
    agents.reset();
    FleetTest::TearDown();
  }

  // A job that appends "MACHINE JOB" to the ledger, then runs `then` (sh).
  json ledger_job(const std::string& then = "true") const {
    return {{"script", "echo \"$TEND_MACHINE $TEND_JOB_ID\" >> " + ledger + "\n" + then + "\n"},
            {"interpreter", "sh"}};
  }

  // Polls runs/ID/NAME until `pred` holds (≤ limit): the last record seen.
  template <class Pred>
  // Coroutines taking references (GCC 12 destroys a temporary passed by value to a coroutine
  // twice): await them at once.
  asio::awaitable<std::optional<fleet::RunRecord>> wait_run(const std::string& id,
                                                            const std::string& name, Pred pred,
                                                            Millis limit = 30s) {
    auto deadline = Clock::now() + limit;
    std::optional<fleet::RunRecord> last;
    while (Clock::now() < deadline) {
      last = co_await fleet_run(*c, keys, id, name);
      if (last && pred(*last)) co_return last;
      co_await sleep_for(100ms);
    }
    co_return last;
  }
  asio::awaitable<std::optional<fleet::RunRecord>> wait_final(const std::string& id,
                                                              const std::string& name,
                                                              Millis limit = 30s) {
    co_return co_await wait_run(
        id, name, [](const fleet::RunRecord& r) { return fleet::is_final_run_state(r.state); },
        limit);
  }
  asio::awaitable<bool> key_exists(const std::string& key) {
    etcd::RangeRequest r{key};
    auto got = co_await c->range(r);
    co_return got && !got->kvs.empty();
  }
  asio::awaitable<bool> wait_key(const std::string& key, bool present, Millis limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (co_await key_exists(key) == present) co_return true;
      co_await sleep_for(100ms);
    }
    co_return false;
  }

  fleet::Keys keys;
  // Named: GCC 12 mishandles a braced list inside a co_await expression.
  const std::vector<std::string> only_m1 = {"m1"};
  std::optional<FleetAgents> agents;
  std::unique_ptr<etcd::Client> c;
  std::string ledger;
};

// Three machines, one job assigned to all: one run on each (the ledger has one line per machine,
// naming it and the job: TEND_MACHINE and TEND_JOB_ID), all succeeded, assignments gone, and at
// most 3 etcd writes per run on the agent's side.
TEST_F(FleetAgentTest, AJobAssignedToThreeMachinesRunsOnceOnEach) {
  const std::vector<std::string> names = {"web-1", "web-2", "db-1"};
  for (int i = 0; i < 3; ++i) {
    int k = agents->add({names[i],
                         "127.0.0." + std::to_string(11 + i),
                         {{"role", i < 2 ? "web" : "db"}},
                         {"--ttl", "3s"}});
    ASSERT_TRUE(agents->start(k)) << agents->why();
  }
  constexpr int kJobs = 5;
  run([&]() -> asio::awaitable<void> {
    for (const auto& n : names) {
      etcd::RangeRequest m{keys.machine_key(n)};
      auto got = co_await c->range(m);
      CO_ASSERT_TRUE(got && got->kvs.size() == 1);
      auto rec = fleet::machine_from_json(got->kvs[0].value);
      CO_ASSERT_TRUE(rec.ok());
      EXPECT_EQ(rec->name, n);
      EXPECT_EQ(rec->labels.at("role"), n.substr(0, n.find('-')));
      EXPECT_NE(rec->address.find("127.0.0.1"), std::string::npos);
      EXPECT_NE(got->kvs[0].lease, 0);
      EXPECT_TRUE(co_await key_exists(keys.seen_key(n)));
    }
    for (int j = 0; j < kJobs; ++j) {
      auto s = co_await fleet_submit(*c, keys, "J" + std::to_string(j), ledger_job(), names);
      CO_ASSERT_OK(s);
      CO_ASSERT_TRUE(s->succeeded);
    }
    for (int j = 0; j < kJobs; ++j)
      for (const auto& n : names) {
        std::string id = "J" + std::to_string(j);
        auto r = co_await wait_final(id, n);
        CO_ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->state, "succeeded") << id << " on " << n << ": " << r->error.value_or("");
        EXPECT_EQ(r->exit_code, 0);
        EXPECT_TRUE(r->started_at && r->finished_at);
        EXPECT_FALSE(co_await key_exists(keys.assign_key(n, id)));
        EXPECT_TRUE(co_await key_exists(keys.claim_key(id, n)));
      }
  });
  auto lines = lines_of(ledger);
  EXPECT_EQ(lines.size(), 3u * kJobs) << read_text(ledger);
  for (int j = 0; j < kJobs; ++j)
    for (const auto& n : names)
      EXPECT_EQ(std::count(lines.begin(), lines.end(), n + " J" + std::to_string(j)), 1)
          << n << " J" << j;
  // etcd writes per run on the agent's side: claim, running, final (≤ 3; 2 when the run ended
  // before `running` was reported).
  double writes = 0, claims = 0;
  for (int i = 0; i < 3; ++i) {
    writes += agents->metric(i, "tend_fleet_run_writes_total");
    claims += agents->metric(i, "tend_fleet_claims_won_total");
  }
  EXPECT_EQ(claims, 3.0 * kJobs);
  EXPECT_LE(writes / claims, 3.0);
  std::printf("[ figure ] etcd writes per run (agent side): %.2f (%g writes, %g runs)\n",
              writes / claims, writes, claims);
}

TEST_F(FleetAgentTest, ASecondAgentWithALiveNameIsRefused) {
  int first = agents->add({"m1", "127.0.0.11", {}, {}});
  ASSERT_TRUE(agents->start(first)) << agents->why();
  int second = agents->add({"m1", "127.0.0.12", {}, {}});
  auto rc = agents->run_to_exit(second, 20s);
  ASSERT_TRUE(rc.has_value()) << "the second agent kept running: " << agents->log(second);
  EXPECT_EQ(*rc, 125);
  EXPECT_NE(agents->log(second).find("another agent named \"m1\" is alive"), std::string::npos)
      << agents->log(second);
  // The first one still holds the name, and still runs jobs.
  run([&]() -> asio::awaitable<void> {
    auto s = co_await fleet_submit(*c, keys, "J1", ledger_job(), only_m1);
    CO_ASSERT_OK(s);
    auto r = co_await wait_final("J1", "m1");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "succeeded");
  });
  EXPECT_EQ(lines_of(ledger).size(), 1u);
}

TEST_F(FleetAgentTest, BadFlagsAndUnreachableEtcdEndClearly) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--name", "a"}, "need --etcd"},
      {{"--etcd", cluster->endpoints()}, "--etcd needs --name"},
      {{"--etcd", cluster->endpoints(), "--name", "a/b"}, "--name"},
      {{"--etcd", cluster->endpoints(), "--name", "a", "--label", "novalue"}, "KEY=VALUE"},
      {{"--etcd", cluster->endpoints(), "--name", "a", "--label", "k=1", "--label", "k=2"},
       "given twice"},
      {{"--etcd", cluster->endpoints(), "--name", "a", "--ttl", "1s"}, "--ttl"},
      {{"--etcd", cluster->endpoints(), "--name", "a", "--ttl", "2.5s"}, "--ttl"},
      {{"--etcd", cluster->endpoints(), "--name", "a", "--lost-after", "1s"}, "--lost-after"},
      {{"--etcd", "ftp://x", "--name", "a"}, "--etcd"},
      {{"--etcd", cluster->endpoints(), "--name", "a", "--advertise", "nope"}, "--advertise"},
  };
  std::string dir = agents->dir() + "/bad";
  for (const auto& k : cases) {
    Command cmd({TEND_BINARY, "agent", "--listen", "127.0.0.11:0", "--data", dir});
    for (const auto& a : k.args) cmd.arg(a);
    cmd.stdin_(Stdio::null()).stdout_(Stdio::null()).stderr_(Stdio::capture());
    auto child = spawn(cmd);
    ASSERT_TRUE(child.ok());
    std::string err;
    char buf[4096];
    for (ssize_t n; (n = ::read(child->stdio_fd(2), buf, sizeof buf)) > 0;) err.append(buf, n);
    auto st = child->wait();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->shell_code(), 125) << err;
    EXPECT_NE(err.find(k.says), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  // Nothing listens there: a clear error after a bounded wait, not a hang.
  int lonely = agents->add({"lonely", "127.0.0.11", {}, {}});
  FleetAgents unreachable("http://127.0.0.1:9,http://127.0.0.1:11");
  int u = unreachable.add({"lonely", "127.0.0.11", {}, {}});
  (void)lonely;
  auto t0 = Clock::now();
  auto rc = unreachable.run_to_exit(u, 30s);
  auto took = Clock::now() - t0;
  ASSERT_TRUE(rc.has_value()) << unreachable.log(u);
  EXPECT_NE(*rc, 0);
  EXPECT_LE(took, 20s);
  EXPECT_NE(unreachable.log(u).find("did not answer in time"), std::string::npos)
      << unreachable.log(u);
}

// SIGTERM: the agent ends promptly and leaves the fleet at once (its lease revoked), not after
// its TTL; its name is free for its successor.
TEST_F(FleetAgentTest, AStoppedAgentLeavesAtOnce) {
  int a = agents->add({"m1", "127.0.0.11", {}, {"--ttl", "30s"}});
  ASSERT_TRUE(agents->start(a)) << agents->why();
  EXPECT_NE(agents->log(a).find("in the fleet as m1 on etcd"), std::string::npos) << agents->log(a);
  auto t0 = Clock::now();
  auto rc = agents->terminate(a);
  EXPECT_EQ(rc, 0) << agents->log(a);
  EXPECT_LE(Clock::now() - t0, 10s);
  run([&]() -> asio::awaitable<void> {
    EXPECT_FALSE(co_await key_exists(keys.machine_key("m1")));  // not 30 s later
    EXPECT_TRUE(co_await key_exists(keys.seen_key("m1")));      // still listed
  });
  int next = agents->add({"m1", "127.0.0.12", {}, {}});
  EXPECT_TRUE(agents->start(next)) << agents->why();
}

// An agent frozen beyond its lease, whose name another agent (another data directory) then
// takes: both see the same assignment, exactly one runs it.
TEST_F(FleetAgentTest, AStaleInstanceAndItsSuccessorRunAnAssignmentOnce) {
  int old_one = agents->add({"m1", "127.0.0.11", {}, {"--ttl", "2s"}});
  ASSERT_TRUE(agents->start(old_one)) << agents->why();
  agents->freeze(old_one);
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await wait_key(keys.machine_key("m1"), false, 15s));
  });
  int successor = agents->add({"m1", "127.0.0.12", {}, {"--ttl", "2s"}});
  ASSERT_TRUE(agents->start(successor)) << agents->why();
  run([&]() -> asio::awaitable<void> {
    auto s = co_await fleet_submit(*c, keys, "J1", ledger_job("sleep 1"), only_m1);
    CO_ASSERT_OK(s);
    co_await sleep_for(200ms);
  });
  agents->thaw(old_one);  // races the successor for the claim
  run([&]() -> asio::awaitable<void> {
    auto r = co_await wait_final("J1", "m1");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "succeeded");
    co_await sleep_for(3s);  // time for the stale one to try too
  });
  EXPECT_EQ(lines_of(ledger).size(), 1u) << read_text(ledger);
  double won = agents->metric(old_one, "tend_fleet_claims_won_total") +
               agents->metric(successor, "tend_fleet_claims_won_total");
  EXPECT_EQ(won, 1.0);
}

// kill -9 of the agent mid-run, restarted on its data (within its TTL): the run re-attaches and
// ends with its true status and complete output; it ran once.
TEST_F(FleetAgentTest, AnAgentKilledMidRunReattachesAndReportsTheTruth) {
  int a = agents->add({"m1", "127.0.0.11", {}, {"--ttl", "3s"}});
  ASSERT_TRUE(agents->start(a)) << agents->why();
  run([&]() -> asio::awaitable<void> {
    json job = ledger_job("sleep 3; seq 1 20000; echo done; exit 7");
    auto s = co_await fleet_submit(*c, keys, "J1", job, only_m1);
    CO_ASSERT_OK(s);
    auto r = co_await wait_run("J1", "m1",
                               [](const fleet::RunRecord& r) { return r.state == "running"; });
    CO_ASSERT_TRUE(r && r->state == "running");
  });
  agents->kill(a);
  ASSERT_TRUE(agents->start(a)) << agents->why();
  run([&]() -> asio::awaitable<void> {
    auto r = co_await wait_final("J1", "m1");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "failed");
    EXPECT_EQ(r->exit_code, 7);
    // seq 1 20000: 108894 bytes, then "done\n".
    EXPECT_EQ(r->output_bytes, 108894 + 5);
    EXPECT_TRUE(co_await wait_key(keys.machine_key("m1"), true, 5s));
  });
  EXPECT_EQ(lines_of(ledger).size(), 1u);
  auto job = agents->get_json(a, "/v1/jobs/J1");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ((*job)["exit_code"], 7);
}

// SIGSTOP beyond the TTL (the machine drops out of etcd), then SIGCONT: the job finished once,
// its result is correct, the machine is back.
TEST_F(FleetAgentTest, AnAgentFrozenBeyondItsTtlComesBackAndReportsOnce) {
  int a = agents->add({"m1", "127.0.0.11", {}, {"--ttl", "2s"}});
  ASSERT_TRUE(agents->start(a)) << agents->why();
  run([&]() -> asio::awaitable<void> {
    auto s = co_await fleet_submit(*c, keys, "J1", ledger_job("sleep 2; exit 3"), only_m1);
    CO_ASSERT_OK(s);
    auto r = co_await wait_run("J1", "m1",
                               [](const fleet::RunRecord& r) { return r.state == "running"; });
    CO_ASSERT_TRUE(r && r->state == "running");
  });
  agents->freeze(a);
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await wait_key(keys.machine_key("m1"), false, 15s));
    co_await sleep_for(3s);  // the job ends meanwhile (its shim is not frozen)
    auto r = co_await fleet_run(*c, keys, "J1", "m1");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "running");  // nobody else moves it
  });
  agents->thaw(a);
  run([&]() -> asio::awaitable<void> {
    auto r = co_await wait_final("J1", "m1");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "failed");
    EXPECT_EQ(r->exit_code, 3);
    EXPECT_TRUE(co_await wait_key(keys.machine_key("m1"), true, 15s));
  });
  EXPECT_EQ(lines_of(ledger).size(), 1u);
  EXPECT_GE(agents->metric(a, "tend_fleet_leases_lost_total"), 1.0);
}

// {"cancel": true} on the assignment: the job is cancelled, its whole tree gone.
TEST_F(FleetAgentTest, CancelThroughTheAssignmentStopsTheWholeTree) {
  int a = agents->add({"m1", "127.0.0.11", {}, {}});
  ASSERT_TRUE(agents->start(a)) << agents->why();
  std::string marker = "fleet-cancel-" + std::to_string(::getpid());
  json job = ledger_job("sleep 300 & sleep 300 & wait");
  job["env"] = {{"TEND_TEST_MARKER", marker}};
  run([&]() -> asio::awaitable<void> {
    auto s = co_await fleet_submit(*c, keys, "J1", job, only_m1);
    CO_ASSERT_OK(s);
    auto r = co_await wait_run("J1", "m1",
                               [](const fleet::RunRecord& r) { return r.state == "running"; });
    CO_ASSERT_TRUE(r && r->state == "running");
    for (int k = 0; k < 50 && count_marked(marker) < 3; ++k) co_await sleep_for(100ms);
    EXPECT_GE(count_marked(marker), 3);
    auto x = co_await fleet_cancel(*c, keys, "J1", "m1");
    CO_ASSERT_OK(x);
    r = co_await wait_final("J1", "m1", 20s);
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "cancelled");
    EXPECT_FALSE(co_await key_exists(keys.assign_key("m1", "J1")));
  });
  // A killed process takes a moment to be gone on a loaded machine (it must run its exit).
  for (int k = 0; k < 100 && count_marked(marker) > 0; ++k) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(count_marked(marker), 0);
  // Cancelled before the machine claimed it: never started.
  run([&]() -> asio::awaitable<void> {
    fleet::JobSpec spec;
    etcd::PutRequest j{keys.job_key("J2"),
                       fleet::to_json(fleet::JobSpec{"J2", ledger_job(), {}, {"m1"}, ""}).dump()};
    auto p = co_await c->put(j);
    CO_ASSERT_OK(p);
    etcd::PutRequest cancelled{keys.assign_key("m1", "J2"),
                               fleet::to_json(fleet::Assignment{true}).dump()};
    auto q = co_await c->put(cancelled);
    CO_ASSERT_OK(q);
    auto r = co_await wait_final("J2", "m1");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "cancelled");
  });
  EXPECT_EQ(lines_of(ledger).size(), 1u);
}

}  // namespace
}  // namespace tend::test
