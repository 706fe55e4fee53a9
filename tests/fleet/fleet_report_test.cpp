// How an agent reports its runs to etcd (docs/fleet.md, "Reports"): a run's new state is written
// when it changes (the scheduler's hook wakes the reporter), not on the next tick of a timer;
// etcd writes per run stay within issue 9's target; an agent stopped while its runs finish exits
// cleanly (the hook's wake-up never reaches a member or io_context that is gone) and its
// successor reports every run once.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "fleet_run_fixture.hpp"

namespace tend::test {
namespace {

std::map<std::string, int> ledger_counts(const std::string& path) {
  std::ifstream f(path);
  std::map<std::string, int> out;
  for (std::string line; std::getline(f, line);) ++out[line];
  return out;
}

// Sums one figure of every agent's /metrics.
double agents_metric(FleetAgents& agents, int n, const std::string& name) {
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    double v = agents.metric(i, name);
    EXPECT_GE(v, 0) << name << " missing on agent " << i;
    sum += v;
  }
  return sum;
}

// Jobs one after the other and in a burst, through a server, to the three machines: every run
// record written on a wake-up (tend_fleet_late_reports_total stays 0: none waited for the
// fallback timer; asserted when no etcd call failed, since a failed write is the fallback's
// job), and ≤ 6 etcd writes per run in all (server and agents, from /metrics).
TEST_F(FleetRunTest, RunStatesAreWrittenWhenTheyChangeAndCostFewWrites) {
  const std::vector<std::string> figures = {
      "tend_fleet_late_reports_total", "tend_fleet_etcd_failed_calls_total",
      "tend_fleet_etcd_writes_total", "tend_fleet_report_rounds_total",
      "tend_fleet_runs_reported_total"};
  std::map<std::string, double> before;
  for (const auto& f : figures) before[f] = agents_metric(*agents, 3, f);
  const long long server_before = servers[0]->metric("tend_etcd_writes_total");
  ASSERT_GE(server_before, 0);

  constexpr int kOneByOne = 10, kBurst = 20;
  const json body = {{"command", {"true"}}, {"target", {{"all", true}}}};
  for (int i = 0; i < kOneByOne; ++i) {
    std::string id = submit(*servers[0], body);
    EXPECT_EQ(finished(*servers[0], id, 60s)["state"], "succeeded") << id;
  }
  std::vector<std::string> ids;
  for (int i = 0; i < kBurst; ++i) ids.push_back(submit(*servers[0], body));
  for (const auto& id : ids) EXPECT_EQ(finished(*servers[0], id, 60s)["state"], "succeeded") << id;

  const double runs = 3.0 * (kOneByOne + kBurst);
  std::map<std::string, double> delta;
  // The server may see a final record a moment before its agent has the txn's answer.
  EXPECT_TRUE(eventually(
      [&] {
        return agents_metric(*agents, 3, "tend_fleet_runs_reported_total") -
                   before["tend_fleet_runs_reported_total"] >=
               runs;
      },
      10s));
  for (const auto& f : figures) delta[f] = agents_metric(*agents, 3, f) - before[f];
  const double server_writes = servers[0]->metric("tend_etcd_writes_total") - server_before;
  EXPECT_EQ(delta["tend_fleet_runs_reported_total"], runs);
  if (delta["tend_fleet_etcd_failed_calls_total"] == 0) {
    EXPECT_EQ(delta["tend_fleet_late_reports_total"], 0)
        << "run records waited for the fallback timer: the reporter was not woken";
  } else {
    std::printf("[ note ] %g etcd calls failed (a loaded machine): late reports not asserted\n",
                delta["tend_fleet_etcd_failed_calls_total"]);
  }
  EXPECT_EQ(server_writes, kOneByOne + kBurst) << "one txn per job on the server";
  const double per_run = (server_writes + delta["tend_fleet_etcd_writes_total"]) / runs;
  EXPECT_LE(per_run, 6.0);
  std::printf(
      "[ figures ] %g runs: %.2f etcd writes per run in all (server %.2f, agents %.2f); %g report "
      "txns for %g runs; %g late records\n",
      runs, per_run, server_writes / runs, delta["tend_fleet_etcd_writes_total"] / runs,
      delta["tend_fleet_report_rounds_total"], runs, delta["tend_fleet_late_reports_total"]);
}

// An agent stopped (SIGTERM) while its runs keep finishing, three times over: it exits 0 each
// time (the scheduler's thread records results until the very end, after the fleet member and
// its io_context are gone: under ASan a wake-up posted to them would abort it), and once
// restarted it reports every run: all final, none run twice.
TEST_F(FleetRunTest, AnAgentStoppedWhileItsRunsFinishExitsCleanlyAndReportsThemAll) {
  int d = agents->add({"d", "127.0.0.14", {}, {"--ttl", "2s", "--max-running", "8"}});
  ASSERT_TRUE(agents->start(d)) << agents->why();
  ASSERT_TRUE(eventually([&] { return online() == 4; }, 20s)) << "d did not join";
  const std::string ledger = dir + "/ledger-d";
  const json body = {{"script", "echo \"$TEND_JOB_ID\" >> " + ledger + "\nsleep 0.$(($$ % 3))\n"},
                     {"interpreter", "sh"},
                     {"target", {{"machines", {"d"}}}}};
  std::vector<std::string> ids;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 16; ++i) ids.push_back(submit(*servers[0], body));
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 100 * round));
    auto rc = agents->terminate(d);
    EXPECT_EQ(rc, 0) << "round " << round << ": " << agents->log(d);
    ASSERT_TRUE(agents->start(d)) << agents->why();
  }
  auto ran = [&] { return ledger_counts(ledger); };
  int succeeded = 0;
  for (const auto& id : ids) {
    json job = finished(*servers[0], id, 120s);
    std::string state = job.value("state", "");
    EXPECT_TRUE(state == "succeeded" || state == "failed") << job.dump();
    succeeded += state == "succeeded";
    auto counts = ran();
    int times = counts.count(id) ? counts[id] : 0;
    EXPECT_LE(times, 1) << id << " ran twice";
    if (state == "succeeded") {
      EXPECT_EQ(times, 1) << id;
    }
  }
  // A run claimed by the stopping agent but not yet recorded is reported failed ("not started",
  // docs/fleet.md): rare; the rest succeed.
  EXPECT_GE(succeeded, static_cast<int>(ids.size()) - 3);
  std::printf("[ figures ] %d of %zu runs succeeded across 3 stops of their agent\n", succeeded,
              ids.size());
}

}  // namespace
}  // namespace tend::test
