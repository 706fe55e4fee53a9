// `lost` with real agents and `tend server`s over a real etcd (issue 9): "a run becomes lost only
// after --lost-after with its machine gone, and then its processes — if the machine comes back
// — are killed and reported, never silently left". Each test counts the job's processes by its
// TEND_TEST_MARKER, reads states through the API or etcd, and bounds every wait generously (the
// suite runs oversubscribed).
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include "fleet/protocol.hpp"
#include "fleet_run_fixture.hpp"

namespace tend::test {
namespace {

std::string marker_of(const char* what) {
  return std::string("fleet-lost-") + what + "-" + std::to_string(::getpid());
}

json sleeper(const std::string& machine, const std::string& marker) {
  return {{"command", {"sleep", "300"}},
          {"env", {{"TEND_TEST_MARKER", marker}}},
          {"target", {{"machines", {machine}}}}};
}

class FleetLostTest : public FleetTest {
 protected:
  void SetUp() override {
    FleetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    agents.emplace(cluster->endpoints());
  }
  void TearDown() override {
    servers.clear();
    agents.reset();
    FleetTest::TearDown();
  }
  // Agent "a" on 127.0.0.11 with a 2 s TTL (and `extra` flags), started.
  int start_agent(std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = {"--ttl", "2s"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    int a = agents->add({"a", "127.0.0.11", {}, flags});
    EXPECT_TRUE(agents->start(a)) << agents->why();
    return a;
  }
  // `n` servers, server i preferring member i, each with `flags`.
  void start_servers(int n, std::vector<std::string> flags) {
    for (int i = 0; i < n; ++i) {
      servers.push_back(
          std::make_unique<FleetServer>(cluster->endpoints_from(i), agents->token_file()));
      ASSERT_TRUE(servers.back()->start(20s, flags)) << servers.back()->error();
    }
  }
  json run_of(FleetServer& s, const std::string& id) {
    json job = s.get("/v1/jobs/" + id);
    return job.is_object() && !job["runs"].empty() ? job["runs"][0] : json::object();
  }
  // Submits the sleeper to `a` and waits until it runs (its process seen).
  std::string running_sleeper(FleetServer& s, const std::string& marker) {
    auto r = s.submit(sleeper("a", marker));
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    if (!r || r->status != 201) return "";
    std::string id = json::parse(r->body).value("id", "");
    EXPECT_TRUE(eventually(
        [&] { return run_of(s, id).value("state", "") == "running" && count_marked(marker) >= 1; },
        60s))
        << s.get("/v1/jobs/" + id).dump();
    return id;
  }
  // Agent `a` back (SIGCONT, or started again): the job's processes are killed and its run is
  // reported lost on top of the mark (--lost-after 4s), for good; the machine is online.
  void expect_killed_and_reported_lost(int a, const std::string& id, const std::string& marker) {
    EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 60s))
        << count_marked(marker) << " processes left\n"
        << agents->log(a);
    ASSERT_TRUE(eventually(
        [&] {
          return run_of(*servers[0], id).value("error", json()).dump().find("on its return") !=
                 std::string::npos;
        },
        60s))
        << servers[0]->get("/v1/jobs/" + id).dump() << agents->log(a);
    EXPECT_TRUE(eventually(
        [&] { return servers[0]->get("/v1/machines")["machines"][0]["state"] == "online"; }, 30s));
    // The last server too (its view follows etcd's watch: a moment later, on a loaded machine
    // maybe more than the 3 s below), then nothing flips back.
    json run;
    EXPECT_TRUE(eventually(
        [&] {
          run = run_of(*servers.back(), id);
          return run.value("error", json()).dump().find("on its return") != std::string::npos;
        },
        30s))
        << run.dump();
    std::this_thread::sleep_for(3s);  // a flip back would show by now
    run = run_of(*servers.back(), id);
    EXPECT_EQ(run["state"], "lost") << run.dump();
    EXPECT_EQ(
        run.value("error", "")
            .rfind("machine a unreachable for more than 4s; on its return the run was cancelled",
                   0),
        0u)
        << run.dump();
  }
  long long marked_lost() const {
    long long n = 0;
    for (const auto& s : servers)
      n += std::max(0LL, s->metric("tend_server_runs_marked_lost_total"));
    return n;
  }

  std::optional<FleetAgents> agents;
  std::vector<std::unique_ptr<FleetServer>> servers;
};

// SIGSTOP beyond TTL + --lost-after: the run is lost on the API (saying why), its process still
// runs (the agent is away, not its jobs); SIGCONT: the agent finds its run lost, kills the job
// and reports on top of the mark: lost, for good.
TEST_F(FleetLostTest, AStoppedAgentsRunIsLostThenKilledAndReportedOnItsReturn) {
  int a = start_agent();
  start_servers(2, {"--lost-after", "4s"});
  const std::string marker = marker_of("stop");
  std::string id = running_sleeper(*servers[0], marker);
  ASSERT_FALSE(id.empty());
  agents->freeze(a);
  const auto frozen = Clock::now();
  ASSERT_TRUE(eventually([&] { return run_of(*servers[0], id).value("state", "") == "lost"; }, 90s))
      << servers[0]->get("/v1/jobs/" + id).dump() << servers[0]->log() << servers[1]->log();
  const auto took = Clock::now() - frozen;
  std::printf("[ figures ] lost %.1f s after SIGSTOP (TTL 2 s + --lost-after 4 s)\n",
              std::chrono::duration<double>(took).count());
  EXPECT_GE(took, 4s) << "lost before --lost-after had passed";
  json job;  // the other server's view follows etcd's watch: it shows the change within moments
  EXPECT_TRUE(eventually(
      [&] {
        job = servers[1]->get("/v1/jobs/" + id);
        return job["state"] == "lost";
      },
      10s));
  EXPECT_EQ(job["state"], "lost");
  EXPECT_EQ(job["runs"][0]["error"], "machine a unreachable for more than 4s");
  // The counter moves once the housekeeper has its txn's answer, maybe after we saw the mark.
  EXPECT_TRUE(eventually([&] { return marked_lost() == 1; }, 10s)) << marked_lost();
  json m = servers[0]->get("/v1/machines")["machines"][0];
  EXPECT_EQ(m["state"], "unreachable");
  EXPECT_TRUE(m["unreachable_since"].is_string()) << m.dump();
  EXPECT_GE(count_marked(marker), 1) << "the job must keep running while its agent is away";

  agents->thaw(a);
  expect_killed_and_reported_lost(a, id, marker);
  EXPECT_EQ(servers[1]->get("/v1/jobs/" + id)["state"], "lost");
  EXPECT_EQ(servers[0]->get("/v1/machines")["machines"][0]["running"], 0)
      << "the agent's report ends the assignment";
  EXPECT_EQ(marked_lost(), 1);
}

// The run marked lost loses its assignment in the same txn (a machine that never returns
// keeps nothing in etcd: its `running` count drops to 0 while it is away). The agent killed -9
// while stopped and started again finds the run among its local jobs, not by an assignment:
// the job is killed and reported lost on top of the mark, never left running.
TEST_F(FleetLostTest, ALostRunsAssignmentGoesAndARestartedAgentStillKillsAndReportsIt) {
  int a = start_agent();
  start_servers(1, {"--lost-after", "4s"});
  const std::string marker = marker_of("restart");
  std::string id = running_sleeper(*servers[0], marker);
  ASSERT_FALSE(id.empty());
  EtcdView view(cluster->endpoints());
  const std::string akey = fleet::Keys("/tend/").assign_key("a", id);
  ASSERT_FALSE(view.value(akey).empty()) << "the running run's assignment";
  agents->freeze(a);
  ASSERT_TRUE(eventually([&] { return run_of(*servers[0], id).value("state", "") == "lost"; }, 90s))
      << servers[0]->get("/v1/jobs/" + id).dump() << servers[0]->log();
  EXPECT_EQ(view.count(akey), 0) << "the assignment goes with the mark";
  json m = servers[0]->get("/v1/machines")["machines"][0];
  EXPECT_EQ(m["state"], "unreachable");
  EXPECT_EQ(m["running"], 0) << m.dump();
  EXPECT_GE(count_marked(marker), 1) << "the job must keep running while its agent is away";

  agents->kill(a);  // stopped, then killed: its job's shim lives on
  EXPECT_GE(count_marked(marker), 1);
  ASSERT_TRUE(agents->start(a)) << agents->why();
  expect_killed_and_reported_lost(a, id, marker);
  EXPECT_EQ(view.count(akey), 0);
}

// kill -9 of the housekeeper: the other server is elected once the lease lapses and marks the
// run lost.
TEST_F(FleetLostTest, TheHousekeeperKilledTheOtherServerTakesOver) {
  int a = start_agent();
  start_servers(2, {"--lost-after", "4s"});
  int leader = -1;
  ASSERT_TRUE(eventually(
      [&] {
        for (int i = 0; i < 2; ++i)
          if (servers[i]->metric("tend_server_housekeeper") == 1) leader = i;
        return leader >= 0;
      },
      30s));
  EXPECT_EQ(
      servers[0]->metric("tend_server_housekeeper") + servers[1]->metric("tend_server_housekeeper"),
      1)
      << "two housekeepers";
  FleetServer& other = *servers[1 - leader];
  const std::string marker = marker_of("leader");
  std::string id = running_sleeper(other, marker);
  ASSERT_FALSE(id.empty());
  servers[leader]->kill(SIGKILL);
  agents->freeze(a);
  EXPECT_TRUE(eventually([&] { return run_of(other, id).value("state", "") == "lost"; }, 90s))
      << other.get("/v1/jobs/" + id).dump() << other.log();
  EXPECT_EQ(other.metric("tend_server_housekeeper"), 1) << other.log();
  EXPECT_TRUE(
      eventually([&] { return other.metric("tend_server_runs_marked_lost_total") == 1; }, 10s));
  agents->thaw(a);
  EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 60s)) << agents->log(a);
}

// No server housekeeping (--lost-after off): `tend agent --lost-after 4s` away from etcd that
// long (every member stopped) marks its own runs lost on its return, kills them and reports.
TEST_F(FleetLostTest, TheAgentsOwnLostAfterMarksItsRunsLostOnItsReturn) {
  int a = start_agent({"--lost-after", "4s"});
  start_servers(1, {"--lost-after", "off"});
  const std::string marker = marker_of("agent");
  std::string id = running_sleeper(*servers[0], marker);
  ASSERT_FALSE(id.empty());
  for (int i = 0; i < cluster->size(); ++i) cluster->stop(i);
  std::this_thread::sleep_for(8s);
  EXPECT_GE(count_marked(marker), 1) << "the job must keep running while etcd is away";
  for (int i = 0; i < cluster->size(); ++i) cluster->resume(i);
  for (int i = 0; i < cluster->size(); ++i) ASSERT_TRUE(cluster->wait_healthy(i, 60s));
  EXPECT_TRUE(eventually([&] { return count_marked(marker) == 0; }, 60s)) << agents->log(a);
  EXPECT_TRUE(eventually(
      [&] {
        json run = run_of(*servers[0], id);
        return run.value("state", "") == "lost" &&
               run.value("error", json()).dump().find("on its return") != std::string::npos;
      },
      60s))
      << servers[0]->get("/v1/jobs/" + id).dump() << agents->log(a);
  json run = run_of(*servers[0], id);
  EXPECT_EQ(run.value("error", "")
                .rfind("lost: machine a was away from etcd longer than 4s (agent "
                       "--lost-after); on its return the run was cancelled",
                       0),
            0u)
      << run.dump();
  EXPECT_EQ(servers[0]->metric("tend_server_runs_marked_lost_total"), 0);
  EXPECT_EQ(servers[0]->metric("tend_server_housekeeper"), 0);
}

// Assignments written while the agent is stopped and its watch's member (member 0, its first
// endpoint) killed, then etcd compacted past them (etcdctl): on SIGCONT the watch reopens on
// another member from a compacted revision, is cancelled, and the agent reads its assignments
// again: every job runs exactly once (a ledger line per run).
TEST_F(FleetLostTest, JobsAssignedAndCompactedWhileTheAgentIsStoppedRunOnceEach) {
  int a = start_agent();
  start_servers(1, {"--lost-after", "off"});
  const std::string ledger = agents->dir() + "/ledger";
  auto body = [&] {
    return json{{"command", {"sh", "-c", "echo \"$TEND_JOB_ID $TEND_MACHINE\" >> " + ledger}},
                {"target", {{"machines", {"a"}}}}};
  };
  std::vector<std::string> ids;
  auto submit = [&] {
    auto r = servers[0]->submit(body());
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    if (r && r->status == 201) ids.push_back(json::parse(r->body)["id"]);
  };
  submit();  // the watch works
  ASSERT_TRUE(eventually([&] { return read_text(ledger).size() > 0; }, 60s)) << agents->log(a);
  agents->freeze(a);
  cluster->kill(0);
  for (int i = 0; i < 5; ++i) submit();
  EtcdView view(cluster->endpoints_from(1));
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(view.put("/noise/" + std::to_string(i % 20), "x"));
  std::string compact = "ETCDCTL_API=3 etcdctl --endpoints=" + cluster->endpoint(1) +
                        " compact $(ETCDCTL_API=3 etcdctl --endpoints=" + cluster->endpoint(1) +
                        " endpoint status -w json | sed 's/.*\"revision\":\\([0-9]*\\).*/\\1/')";
  ASSERT_EQ(std::system(compact.c_str()), 0) << compact;
  std::this_thread::sleep_for(4s);  // beyond the TTL and the watch's silence limit
  agents->thaw(a);
  for (const auto& id : ids)
    EXPECT_TRUE(
        eventually([&] { return run_of(*servers[0], id).value("state", "") == "succeeded"; }, 90s))
        << id << agents->log(a);
  std::this_thread::sleep_for(3s);  // a second run would show by now
  std::map<std::string, int> runs;
  std::istringstream lines(read_text(ledger));
  for (std::string line; std::getline(lines, line);) ++runs[line];
  std::map<std::string, int> want;
  for (const auto& id : ids) want[id + " a"] = 1;
  EXPECT_EQ(runs, want) << read_text(ledger) << agents->log(a);
  const std::string log = agents->log(a);
  EXPECT_NE(log.find("the assignment watch ended (etcd watch: revision"), std::string::npos)
      << "the compaction-cancelled path was not taken:\n"
      << log;
}

}  // namespace
}  // namespace tend::test
