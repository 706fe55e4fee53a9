// The whole fleet: a real 3-member etcd, three real agents (`tend agent --etcd`) on
// 127.0.0.11-13 and two `tend server`s. Jobs submitted through a server run on the machines
// picked, their output comes through the server, cancel stops every run, and a server killed
// during a burst loses no accepted job and runs none twice (a ledger file counts the runs).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "fleet_run_fixture.hpp"
#include "require.hpp"
#include "tend/scope.hpp"

namespace tend::test {
namespace {

TEST_F(FleetRunTest, MachinesAreListedOnlineAndAKilledAgentStaysListedUnreachable) {
  json m = servers[0]->get("/v1/machines");
  ASSERT_EQ(m["machines"].size(), 3u) << m.dump();
  EXPECT_EQ(m["machines"][0]["labels"]["role"], "web");
  EXPECT_EQ(m["machines"][2]["labels"]["role"], "db");
  agents->kill(2);
  // Its lease (2 s) lapses: listed, unreachable; the others stay online.
  ASSERT_TRUE(eventually(
      [&] {
        json now = servers[1]->get("/v1/machines");
        return now["machines"].size() == 3u && now["machines"][2]["state"] == "unreachable";
      },
      15s));
  EXPECT_EQ(online(), 2);
}

TEST_F(FleetRunTest, ASubmissionByLabelRunsOnBothMachinesAndItsOutputComesThroughTheServer) {
  auto t0 = std::chrono::steady_clock::now();
  std::string id = submit(*servers[0], {{"command",
                                         {"sh", "-c",
                                          "echo start $TEND_MACHINE; sleep 1; "
                                          "echo end $TEND_JOB_ID"}},
                                        {"target", {{"match", {{"role", "web"}}}}}});
  auto accepted = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(id.empty());
  EXPECT_LT(accepted, 2s);
  // Followed through the other server while it runs: the first line arrives before the end.
  std::string live;
  auto r = servers[1]->client().Get("/v1/jobs/" + id + "/runs/a/output?follow=1",
                                    [&](const char* d, size_t n) {
                                      live.append(d, n);
                                      return true;
                                    });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(live, "start a\nend " + id + "\n");
  json job = finished(*servers[0], id);
  ASSERT_EQ(job["state"], "succeeded") << job.dump();
  ASSERT_EQ(job["runs"].size(), 2u);
  for (const auto& run : job["runs"]) {
    EXPECT_EQ(run["state"], "succeeded");
    EXPECT_EQ(run["exit_code"], 0);
    EXPECT_EQ(run["output_bytes"], 8 + 5 + id.size());
  }
  // By offset, whole, from machine b.
  auto tail = servers[0]->client().Get("/v1/jobs/" + id + "/runs/b/output?offset=8");
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->body, "end " + id + "\n");
  // c was not picked.
  auto c = servers[0]->client().Get("/v1/jobs/" + id + "/runs/c/output");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 404);
}

// A fleet job has one id on every machine, and these agents share one host and one cgroup: each
// run must still get a cgroup of its own (not a session in its place, as when they shared a name).
TEST_F(FleetRunTest, EveryMachinesRunOfAJobHasItsOwnCgroup) {
  TEND_REQUIRE(probe_cgroup().writable, "a writable cgroup v2: " << probe_cgroup().why_not);
  std::string id =
      submit(*servers[0], {{"command", {"cat", "/proc/self/cgroup"}}, {"target", {{"all", true}}}});
  ASSERT_FALSE(id.empty());
  json job = finished(*servers[0], id);
  ASSERT_EQ(job["state"], "succeeded") << job.dump();
  std::set<std::string> cgroups;
  for (const std::string machine : {"a", "b", "c"}) {
    auto r = servers[0]->client().Get("/v1/jobs/" + id + "/runs/" + machine + "/output");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    std::string line;  // the v2 line: "0::/path"
    for (size_t at = 0; at < r->body.size();) {
      size_t end = r->body.find('\n', at);
      if (end == std::string::npos) end = r->body.size();
      if (r->body.compare(at, 3, "0::") == 0) line = r->body.substr(at + 3, end - at - 3);
      at = end + 1;
    }
    EXPECT_NE(line.find("/tend-job-"), std::string::npos)
        << machine << "'s run is not in a job cgroup: " << r->body;
    cgroups.insert(line);
  }
  EXPECT_EQ(cgroups.size(), 3u) << "runs shared a cgroup";
}

TEST_F(FleetRunTest, CancelStopsEveryRun) {
  std::string id = submit(*servers[0], {{"command", {"sleep", "60"}}, {"target", {{"all", true}}}});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(eventually(
      [&] {
        json job = servers[0]->get("/v1/jobs/" + id);
        for (const auto& run : job["runs"])
          if (run["state"] != "running") return false;
        return true;
      },
      20s));
  auto t0 = std::chrono::steady_clock::now();
  auto c = servers[1]->client().Post("/v1/jobs/" + id + "/cancel");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 202) << c->body;
  json job = finished(*servers[0], id, 20s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
  EXPECT_EQ(job["state"], "cancelled") << job.dump();
  for (const auto& run : job["runs"]) EXPECT_EQ(run["state"], "cancelled") << run.dump();
}

TEST_F(FleetRunTest, AServerKilledDuringABurstLosesNoAcceptedJobAndRunsNoneTwice) {
  const std::string ledger = dir + "/ledger";
  const std::string cmd = "echo \"$TEND_JOB_ID $TEND_MACHINE\" >> " + ledger;
  const json body = {{"command", {"sh", "-c", cmd}}, {"target", {{"all", true}}}};
  std::vector<std::string> accepted;
  std::atomic<int> on_first{0};
  int unanswered = 0;
  // The first server takes submissions until it is killed (kill -9 from another thread once it
  // accepted 10, while more are in flight); the client then goes on with the second.
  std::thread killer([&] {
    eventually([&] { return on_first >= 10; }, 60s);
    servers[0]->kill(SIGKILL);
  });
  bool first = true;
  for (int i = 0; i < 40; ++i) {
    auto r = (first ? servers[0] : servers[1])->submit(body);
    if (r && r->status == 201) {
      accepted.push_back(json::parse(r->body)["id"]);
      if (first) ++on_first;
      continue;
    }
    ++unanswered;
    first = false;
  }
  killer.join();
  EXPECT_GE(accepted.size(), 30u);
  // Every job etcd holds (accepted, or written before its answer was lost) ends; the accepted
  // ones are all there.
  json all = servers[1]->get("/v1/jobs?limit=500");
  std::set<std::string> stored;
  for (const auto& j : all["jobs"]) stored.insert(j["id"].get<std::string>());
  for (const auto& id : accepted) EXPECT_TRUE(stored.count(id)) << "accepted job lost: " << id;
  for (const auto& id : stored) {
    json job = finished(*servers[1], id, 60s);
    EXPECT_EQ(job["state"], "succeeded") << job.dump();
  }
  // Each ran exactly once on each of its 3 machines: one ledger line per (job, machine).
  std::map<std::string, int> runs;
  std::istringstream lines(read_text(ledger));
  for (std::string line; std::getline(lines, line);) ++runs[line];
  for (const auto& [line, n] : runs) EXPECT_EQ(n, 1) << "ran twice: " << line;
  for (const auto& id : stored)
    for (const char* m : {"a", "b", "c"}) EXPECT_EQ(runs[id + " " + m], 1) << id << " on " << m;
  EXPECT_EQ(runs.size(), 3 * stored.size());
  std::printf("[ figures ] %zu accepted, %d unanswered, %zu stored, %zu runs\n", accepted.size(),
              unanswered, stored.size(), runs.size());
}

// Figures for the report (asserted loosely): submit latency through a server, and etcd writes
// per job (the server's txn) and per run (the agents' claims and reports).
TEST_F(FleetRunTest, SubmitLatencyAndEtcdWritesPerJob) {
  const int n = 30;
  const long long server_writes = servers[0]->metric("tend_etcd_writes_total");
  double agent_writes = 0;
  for (int i = 0; i < 3; ++i) agent_writes -= agents->metric(i, "tend_fleet_run_writes_total");
  std::vector<double> ms;
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ids.push_back(submit(*servers[0], {{"command", {"true"}}, {"target", {{"all", true}}}}));
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  for (const auto& id : ids) EXPECT_EQ(finished(*servers[0], id, 60s)["state"], "succeeded");
  for (int i = 0; i < 3; ++i) agent_writes += agents->metric(i, "tend_fleet_run_writes_total");
  std::sort(ms.begin(), ms.end());
  const long long per_jobs = servers[0]->metric("tend_etcd_writes_total") - server_writes;
  EXPECT_EQ(per_jobs, n) << "one etcd write per job on the server";
  const double per_run = agent_writes / (3.0 * n);
  EXPECT_LE(per_run + 1.0 / 3, 6.0);
  std::printf(
      "[ figures ] submit to 3 machines: p50 %.1f ms, p90 %.1f ms, max %.1f ms; etcd "
      "writes: %.2f per job (server), %.2f per run (agents), %.2f per run in all\n",
      ms[n / 2], ms[n * 9 / 10], ms.back(), double(per_jobs) / n, per_run,
      per_run + double(per_jobs) / (3.0 * n));
}

TEST_F(FleetRunTest, TheCommandLineSubmitsWaitsAndReportsAMachinePerLine) {
  std::string addr = servers[0]->addr();
  auto tend = [&](std::vector<std::string> args) {
    Command cmd({TEND_BINARY});
    for (auto& a : args) cmd.arg(a);
    cmd.set_env("TEND_ADDR", addr).set_env("TEND_TOKEN", servers[0]->token());
    std::string out = dir + "/cli.txt";
    cmd.stdin_(Stdio::null()).stdout_(Stdio::file(out)).stderr_(Stdio::file(out));
    auto child = spawn(cmd);
    auto st = child ? child->wait() : Expected<ExitStatus>(child.error());
    return std::pair<int, std::string>{st ? st->shell_code() : -1, read_text(out)};
  };
  auto [rc, out] = tend({"submit", "--match", "role=web", "--wait", "--", "true"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\na "), std::string::npos) << out;
  EXPECT_NE(out.find("\nb "), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3) << out;  // the id, then a line each
  std::tie(rc, out) =
      tend({"submit", "--on", "a,c", "--wait", "--", "sh", "-c", "test $TEND_MACHINE = a"});
  EXPECT_EQ(rc, 1) << out;  // c failed
  std::tie(rc, out) = tend({"submit", "--on", "a", "--all", "--", "true"});
  EXPECT_EQ(rc, 125) << out;
  std::tie(rc, out) = tend({"submit", "--on", "nope", "--", "true"});
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("target"), std::string::npos) << out;
  std::tie(rc, out) = tend({"machines"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  std::string id =
      submit(*servers[0], {{"command", {"echo", "hello"}}, {"target", {{"machines", {"b"}}}}});
  finished(*servers[0], id);
  std::tie(rc, out) = tend({"logs", id, "--machine", "b"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "hello\n");
  // One run: --machine may be left out. Several: the error names them.
  std::tie(rc, out) = tend({"logs", id});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "hello\n");
  std::string two =
      submit(*servers[0], {{"command", {"echo", "hi"}}, {"target", {{"machines", {"a", "b"}}}}});
  finished(*servers[0], two);
  std::tie(rc, out) = tend({"logs", two});
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("ran on 2 machines (a, b): pick one with --machine NAME"), std::string::npos)
      << out;

  // Several servers: the first that answers. Nobody listens on the first address, the second
  // server is killed: the third serves.
  addr = "127.0.0.1:1," + servers[0]->addr() + "," + servers[1]->addr();
  servers[0]->kill(SIGKILL);
  std::tie(rc, out) = tend({"submit", "--on", "a", "--wait", "--", "true"});
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = tend({"machines"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  addr = "127.0.0.1:1";  // none answers: the error of the last
  std::tie(rc, out) = tend({"machines"});
  EXPECT_EQ(rc, 125) << out;
}

}  // namespace
}  // namespace tend::test
