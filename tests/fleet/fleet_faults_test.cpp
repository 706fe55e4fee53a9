// Issue 9's faults against the whole fleet: a real 3-member etcd, real agents, real `tend
// server`s. Every run appends "JOB MACHINE" to a ledger file; the tests count its lines (each
// accepted job ran exactly / at most once per machine), and check final states, exit codes and
// output bytes. Bounds are generous: the suite must pass on an oversubscribed machine.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "fleet_run_fixture.hpp"

namespace tend::test {
namespace {

// "JOB MACHINE" → how many times it ran (one ledger line per run).
std::map<std::string, int> ledger_counts(const std::string& ledger) {
  std::map<std::string, int> runs;
  std::istringstream lines(read_text(ledger));
  for (std::string line; std::getline(lines, line);) ++runs[line];
  return runs;
}

json ledger_body(const std::string& ledger, const std::vector<std::string>& machines,
                 const std::string& then = "true") {
  return {
      {"command", {"sh", "-c", "echo \"$TEND_JOB_ID $TEND_MACHINE\" >> " + ledger + "; " + then}},
      {"target", {{"machines", machines}}}};
}

// The ids of every job the fleet holds (what etcd has, accepted or not).
std::set<std::string> stored_jobs(FleetServer& s) {
  std::set<std::string> ids;
  json all = s.get("/v1/jobs?limit=500");  // the most a page holds
  for (const auto& j : all.value("jobs", json::array())) ids.insert(j["id"].get<std::string>());
  EXPECT_LT(ids.size(), 500u) << "more jobs than one page: the checks would miss some";
  return ids;
}

bool is_final(const std::string& state) {
  return state != "queued" && state != "running";
}

class FleetFaultsTest : public FleetRunTest {};

// kill -9 of the etcd leader (found with status_of) while 80 submissions go through the two
// servers: a 201 means the job ran exactly once on each of its machines; anything else is a 503
// or no answer; no accepted job is lost and none runs twice.
TEST_F(FleetFaultsTest, TheEtcdLeaderKilledDuringABurstLosesNoAcceptedJobAndRunsNoneTwice) {
  const std::string ledger = dir + "/ledger";
  const std::vector<std::string> all = {"a", "b", "c"};
  const json body = ledger_body(ledger, all);
  auto leader = cluster->leader();
  ASSERT_TRUE(leader.has_value());
  std::vector<std::string> accepted;
  std::map<int, int> refused;  // status → count
  int unanswered = 0;
  std::atomic<int> answered{0};
  // Killed from another thread once 15 submissions were answered, while more are in flight.
  std::thread killer([&] {
    eventually([&] { return answered >= 15; }, 120s);
    cluster->kill(*leader);
  });
  for (int i = 0; i < 80; ++i) {
    auto r = servers[i % 2]->submit(body);
    ++answered;
    if (!r) {
      ++unanswered;
    } else if (r->status == 201) {
      accepted.push_back(json::parse(r->body)["id"]);
    } else {
      ++refused[r->status];
      EXPECT_EQ(r->status, 503) << r->body;
    }
  }
  killer.join();
  auto next = cluster->leader();
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(*next, *leader);
  EXPECT_GE(accepted.size(), 40u) << "a new leader within a second or so: most are accepted";

  std::set<std::string> stored = stored_jobs(*servers[1]);
  for (const auto& id : accepted) EXPECT_TRUE(stored.count(id)) << "accepted job lost: " << id;
  for (const auto& id : stored) {
    json job = finished(*servers[1], id, 120s);
    EXPECT_EQ(job["state"], "succeeded") << job.dump();
    EXPECT_EQ(job["runs"].size(), 3u) << job.dump();
  }
  auto runs = ledger_counts(ledger);
  for (const auto& [line, n] : runs) EXPECT_EQ(n, 1) << "ran twice: " << line;
  for (const auto& id : stored)
    for (const auto& m : all) EXPECT_EQ(runs[id + " " + m], 1) << id << " on " << m;
  EXPECT_EQ(runs.size(), 3 * stored.size()) << "a run of a job etcd does not hold";
  int n_refused = 0;
  for (auto [status, n] : refused) n_refused += n;
  std::printf(
      "[ figures ] leader %d killed: %zu accepted, %d refused (503), %d unanswered, %zu stored, "
      "%zu runs\n",
      *leader, accepted.size(), n_refused, unanswered, stored.size(), runs.size());
}

// 2 of 3 members killed while a job runs on a: submissions meanwhile are 503 within 10 s and
// write nothing; the job keeps running and ends; once quorum is back it reports its true
// status (failed, exit 5) and its complete output.
TEST_F(FleetFaultsTest, AJobRunningWhileQuorumIsLostReportsItsTrueStatusOnceItIsBack) {
  const std::string ledger = dir + "/ledger";
  std::string id =
      submit(*servers[0], ledger_body(ledger, {"a"}, "echo begin; sleep 3; echo end; exit 5"));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(eventually(
      [&] {
        json job = servers[0]->get("/v1/jobs/" + id);
        return !job["runs"].empty() && job["runs"][0]["state"] == "running";
      },
      60s));
  auto leader = cluster->leader();
  ASSERT_TRUE(leader.has_value());
  // The survivor is a follower: the leader goes too (an election cannot happen without quorum).
  const int survivor = (*leader + 1) % 3;
  for (int m = 0; m < 3; ++m)
    if (m != survivor) cluster->kill(m);
  for (auto& s : servers) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = s->submit(ledger_body(ledger, {"a", "b"}));
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_LT(took, 10s);
  }
  // The job ends meanwhile, on the machine (its agent's own API still answers).
  ASSERT_TRUE(eventually(
      [&] {
        auto local = agents->get_json(0, "/v1/jobs/" + id);
        return local && is_final(local->value("state", ""));
      },
      60s))
      << agents->log(0);
  for (int m = 0; m < 3; ++m)
    if (m != survivor) cluster->restart(m);
  for (int m = 0; m < 3; ++m) ASSERT_TRUE(cluster->wait_healthy(m, 60s)) << "member " << m;

  json job = finished(*servers[1], id, 120s);
  EXPECT_EQ(job["state"], "failed") << job.dump();
  ASSERT_EQ(job["runs"].size(), 1u) << job.dump();
  EXPECT_EQ(job["runs"][0]["state"], "failed");
  EXPECT_EQ(job["runs"][0]["exit_code"], 5);
  EXPECT_EQ(job["runs"][0]["output_bytes"], 10);
  auto out = servers[0]->client().Get("/v1/jobs/" + id + "/runs/a/output");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200) << out->body;
  EXPECT_EQ(out->body, "begin\nend\n");
  EXPECT_EQ(ledger_counts(ledger), (std::map<std::string, int>{{id + " a", 1}}));
  EXPECT_EQ(stored_jobs(*servers[0]), std::set<std::string>{id}) << "a refused job was written";
}

// A compaction while an agent's watch is down: the agent knows only member 0; member 0 is
// killed, the assignment and many other keys are written through the others, etcd is compacted
// past them all, member 0 returns. The agent's watch resumes from a compacted revision: it must
// re-read its assignments and run the job exactly once.
class FleetCompactionTest : public FleetTest {};

TEST_F(FleetCompactionTest, AnAssignmentWrittenAndCompactedWhileTheWatchIsDownRunsOnce) {
  FleetAgents agents(cluster->endpoint(0));
  const std::string ledger = agents.dir() + "/ledger";
  int a = agents.add({"m1", "127.0.0.11", {}, {"--ttl", "2s"}});
  ASSERT_TRUE(agents.start(a)) << agents.why();
  auto c = client(1);
  fleet::Keys keys;
  const std::vector<std::string> m1 = {"m1"};
  const json job = {{"command", {"sh", "-c", "echo \"$TEND_JOB_ID $TEND_MACHINE\" >> " + ledger}}};
  auto wait_final = [&](const std::string& id) -> asio::awaitable<std::optional<fleet::RunRecord>> {
    auto deadline = Clock::now() + 120s;
    std::optional<fleet::RunRecord> last;
    while (Clock::now() < deadline) {
      last = co_await fleet_run(*c, keys, id, "m1");
      if (last && fleet::is_final_run_state(last->state)) co_return last;
      co_await sleep_for(200ms);
    }
    co_return last;
  };
  // The watch works: a first job runs.
  run([&]() -> asio::awaitable<void> {
    CO_ASSERT_OK(co_await fleet_submit(*c, keys, "J0", job, m1));
    auto r = co_await wait_final("J0");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "succeeded");
  });
  cluster->kill(0);
  int64_t compacted = 0;
  run([&]() -> asio::awaitable<void> {
    CO_ASSERT_OK(co_await fleet_submit(*c, keys, "J1", job, m1));
    etcd::Result<etcd::PutResult> last = etcd::Error{};
    for (int i = 0; i < 300; ++i) {
      etcd::PutRequest p{"/noise/" + std::to_string(i % 50), std::string(100, 'x')};
      last = co_await c->put(p);
      CO_ASSERT_OK(last);
    }
    compacted = last->header.revision;
    CO_ASSERT_OK(co_await c->compact(compacted));
  });
  ASSERT_GT(compacted, 300);
  EXPECT_EQ(read_text(ledger), "J0 m1\n") << "J1 ran while the agent could not see etcd";
  cluster->restart(0);
  ASSERT_TRUE(cluster->wait_healthy(0, 60s));
  run([&]() -> asio::awaitable<void> {
    auto r = co_await wait_final("J1");
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->state, "succeeded") << agents.log(a);
    EXPECT_EQ(r->exit_code, 0);
    co_await sleep_for(3s);  // a second run would show by now
  });
  EXPECT_EQ(read_text(ledger), "J0 m1\nJ1 m1\n") << agents.log(a);
}

// A randomized fault loop, bounded in time: submissions interleaved with agents killed (-9) and
// restarted, an agent stopped (SIGSTOP) and continued, an etcd member killed and restarted
// (never two at once). Once the faults stop and everything is back: every accepted job is held,
// every run ended, and none ran twice on a machine. TEND_FAULT_SEED replays a run,
// TEND_FAULT_SECONDS sets its length (≤ 60).
TEST_F(FleetFaultsTest, ARandomizedFaultLoopRunsNothingTwiceAndLeavesNothingRunning) {
  const char* seed_env = std::getenv("TEND_FAULT_SEED");
  const unsigned seed =
      seed_env ? unsigned(std::strtoul(seed_env, nullptr, 10)) : std::random_device{}();
  const char* secs_env = std::getenv("TEND_FAULT_SECONDS");
  const int seconds = std::clamp(secs_env ? std::atoi(secs_env) : 40, 1, 60);
  std::printf("[ seed    ] TEND_FAULT_SEED=%u TEND_FAULT_SECONDS=%d\n", seed, seconds);
  std::fflush(stdout);
  SCOPED_TRACE("TEND_FAULT_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return int(rng() % unsigned(n)); };

  const std::string ledger = dir + "/ledger";
  const std::vector<std::string> names = {"a", "b", "c"};
  std::vector<std::string> accepted;
  std::map<std::string, int> counts;  // what happened, for the figures
  std::vector<bool> frozen(3, false);
  int member_down = -1;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    int action = pick(10);
    if (action < 5) {
      std::vector<std::string> on;
      for (const auto& n : names)
        if (pick(2)) on.push_back(n);
      if (on.empty()) on.push_back(names[pick(3)]);
      auto r = servers[pick(2)]->submit(ledger_body(ledger, on, "sleep 0.$((RANDOM % 5))"));
      if (r && r->status == 201) {
        accepted.push_back(json::parse(r->body)["id"]);
        ++counts["accepted"];
      } else {
        ++counts[r ? "refused " + std::to_string(r->status) : "unanswered"];
        if (r) {
          EXPECT_EQ(r->status, 503) << r->body;
        }
      }
    } else if (action == 5) {
      int i = pick(3);
      if (frozen[i]) {
        agents->thaw(i);
        frozen[i] = false;
      }
      agents->kill(i);
      ASSERT_TRUE(agents->start(i, 60s)) << agents->why();
      ++counts["agent kill -9 + restart"];
    } else if (action == 6) {
      int i = pick(3);
      if (frozen[i]) {
        agents->thaw(i);
        ++counts["agent SIGCONT"];
      } else {
        agents->freeze(i);
        ++counts["agent SIGSTOP"];
      }
      frozen[i] = !frozen[i];
    } else if (action == 7) {
      if (member_down >= 0) {
        cluster->restart(member_down);
        ASSERT_TRUE(cluster->wait_healthy(member_down, 60s)) << "member " << member_down;
        member_down = -1;
        ++counts["etcd member restarted"];
      } else {
        member_down = pick(3);
        cluster->kill(member_down);
        ++counts["etcd member kill -9"];
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + pick(700)));
    }
  }
  // Everything back.
  for (int i = 0; i < 3; ++i)
    if (frozen[i]) agents->thaw(i);
  if (member_down >= 0) cluster->restart(member_down);
  for (int m = 0; m < 3; ++m) ASSERT_TRUE(cluster->wait_healthy(m, 60s)) << "member " << m;
  ASSERT_TRUE(eventually([&] { return online() == 3; }, 60s)) << "agents did not come back";

  std::set<std::string> stored = stored_jobs(*servers[0]);
  for (const auto& id : accepted) EXPECT_TRUE(stored.count(id)) << "accepted job lost: " << id;
  std::map<std::string, int> states;
  std::vector<std::string> succeeded;  // "JOB MACHINE" of every run that says it succeeded
  size_t expected_runs = 0;
  for (const auto& id : stored) {
    json job = finished(*servers[0], id, 180s);
    EXPECT_TRUE(is_final(job.value("state", ""))) << "still running: " << job.dump();
    for (const auto& r : job["runs"]) {
      ++states[r["state"].get<std::string>()];
      ++expected_runs;
      EXPECT_TRUE(is_final(r["state"].get<std::string>())) << job.dump();
      if (r["state"] == "succeeded")
        succeeded.push_back(id + " " + r["machine"].get<std::string>());
    }
  }
  auto runs = ledger_counts(ledger);
  std::set<std::string> held;
  for (const auto& id : stored)
    for (const auto& n : names) held.insert(id + " " + n);
  for (const auto& [line, n] : runs) {
    EXPECT_EQ(n, 1) << "ran twice: " << line;
    EXPECT_TRUE(held.count(line)) << "a run of a job etcd does not hold: " << line;
  }
  for (const auto& line : succeeded)
    EXPECT_EQ(runs[line], 1) << "succeeded, not in the ledger: " << line;
  std::printf("[ figures ] seed %u, %d s:", seed, seconds);
  for (const auto& [what, n] : counts) std::printf(" %s %d,", what.c_str(), n);
  std::printf(" %zu jobs stored, %zu runs, ledger %zu lines; run states:", stored.size(),
              expected_runs, runs.size());
  for (const auto& [st, n] : states) std::printf(" %s %d", st.c_str(), n);
  std::printf("\n");
}

}  // namespace
}  // namespace tend::test
