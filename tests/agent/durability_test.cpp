// The agent can die: jobs survive it (their shims are outside its session), a restarted agent
// re-attaches, and a job whose supervisor died too is `lost` with its processes killed.
// As PID 1 of a PID namespace, it reaps orphans without ever losing a shim's exit status.
#include <sys/wait.h>

#include "agent_harness.hpp"
#include "proc_walk.hpp"

using namespace agent_test;

namespace {

// pids of the shims supervising jobs in `data_dir` (found by their command line; a shim's guard
// is a fork of it, with the same command line and its own name, taken only once the fork has
// run: on a loaded machine it may not have yet, so a fork of a shim is never a shim).
std::vector<pid_t> shim_pids(const std::string& data_dir) {
  auto is_shim = [&](const std::string& cmd) {
    return cmd.find("agent-shim") != std::string::npos && cmd.find(data_dir) != std::string::npos;
  };
  return tend::test::processes_where([&](pid_t pid, const std::string& dir) {
    if (tend::test::named_tend_guard(pid)) return false;
    const std::string cmd = read_text(dir + "/cmdline");
    if (!is_shim(cmd)) return false;
    auto st = tend::test::read_stat(pid);
    return st && read_text("/proc/" + std::to_string(st->ppid) + "/cmdline") != cmd;
  });
}

}  // namespace

TEST(AgentDurability, JobsSurviveAKilledAgent) {
  std::string m = unique_marker();
  Agent first{{"--max-running", "32"}};
  ASSERT_TRUE(first.start()) << first.last_error();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(
        first.submit_ok({{"script", "for i in 1 2 3 4 5; do echo line $i; sleep 1; done; exit 7"},
                         {"env", {{"TEND_TEST_MARKER", m}}}}));
  auto deadline = Clock::now() + 10s;
  while (count_marked(m) < 20 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(1s);
  first.stop(SIGKILL);
  EXPECT_GE(count_marked(m), 20) << "jobs died with the agent";

  Agent second{{"--max-running", "32"}, first.data()};
  ASSERT_TRUE(second.start()) << second.last_error();
  for (const auto& id : ids) {
    json j = second.wait_final(id, 30s);
    EXPECT_EQ(j["state"], "failed") << j;
    EXPECT_EQ(j["exit_code"], 7) << j;
    EXPECT_EQ(second.output(id), "line 1\nline 2\nline 3\nline 4\nline 5\n") << id;
  }
  auto running = json::parse(second.client().Get("/v1/jobs?state=running")->body);
  EXPECT_EQ(running["jobs"].size(), 0u);
  EXPECT_EQ(wait_marked_gone(m), 0);
}

TEST(AgentDurability, JobWhoseShimDiedIsLostAndCleanedUp) {
  std::string m = unique_marker();
  Agent first{{"--max-running", "4"}};
  ASSERT_TRUE(first.start()) << first.last_error();
  std::string id = first.submit_ok({{"command", {"sh", "-c", "setsid sleep 300 & sleep 300"}},
                                    {"env", {{"TEND_TEST_MARKER", m}}}});
  auto deadline = Clock::now() + 10s;
  while (count_marked(m) < 3 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  ASSERT_GE(count_marked(m), 3) << "sh and its two sleeps did not start";
  first.stop(SIGKILL);
  auto shims = shim_pids(first.data());
  ASSERT_EQ(shims.size(), 1u);
  ASSERT_EQ(::kill(shims[0], SIGKILL), 0);
  std::this_thread::sleep_for(200ms);

  Agent second{{}, first.data()};
  ASSERT_TRUE(second.start()) << second.last_error();
  json j = second.wait_final(id, 10s);
  EXPECT_EQ(j["state"], "lost");
  EXPECT_TRUE(j["error"].is_string());
  EXPECT_EQ(wait_marked_gone(m), 0) << "a lost job's processes were left running";
}

TEST(AgentDurability, ShimKilledWhileTheAgentRunsMeansLost) {
  std::string m = unique_marker();
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string id =
      agent.submit_ok({{"command", {"sleep", "300"}}, {"env", {{"TEND_TEST_MARKER", m}}}});
  auto deadline = Clock::now() + 10s;
  while (count_marked(m) < 1 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  auto shims = shim_pids(agent.data());
  ASSERT_EQ(shims.size(), 1u);
  ASSERT_EQ(::kill(shims[0], SIGKILL), 0);
  json j = agent.wait_final(id, 10s);
  EXPECT_EQ(j["state"], "lost");
  EXPECT_EQ(wait_marked_gone(m), 0);
}

TEST(AgentDurability, QueuedJobsStartAfterARestart) {
  Agent first{{"--max-running", "1"}};
  ASSERT_TRUE(first.start()) << first.last_error();
  std::string m = unique_marker();
  // The blocker runs until the test opens its gate: the jobs behind it are still queued when
  // the agent is killed, however long the submissions take on a loaded machine (a `sleep 1`
  // could end first, and the last one would be running or done already).
  const std::string gate = first.data() + "/gate";
  std::string blocker = first.submit_ok(
      {{"command", {"sh", "-c", "until [ -e '" + gate + "' ]; do sleep 0.05; done"}},
       {"env", {{"TEND_TEST_MARKER", m}}},
       {"timeout", "300s"}});  // not forever if the test fails before it opens the gate
  auto deadline = Clock::now() + 10s;
  while (count_marked(m) < 1 && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_GE(count_marked(m), 1) << "the blocker did not start";
  std::vector<std::string> queued;
  for (int i = 0; i < 3; ++i)
    queued.push_back(first.submit_ok({{"command", {"sh", "-c", "exit " + std::to_string(i)}}}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(first.job(queued[i]).value()["state"], "queued") << i;
  first.stop(SIGKILL);

  Agent second{{"--max-running", "1"}, first.data()};
  ASSERT_TRUE(second.start()) << second.last_error();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(second.job(queued[i]).value()["state"], "queued") << i;
  { std::ofstream(gate) << "\n"; }
  EXPECT_EQ(second.wait_final(blocker)["state"], "succeeded");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(second.wait_final(queued[i])["exit_code"], i);
}

TEST(AgentPid1, ReapsOrphansAndKeepsEveryExitStatus) {
  if (::system("unshare -fp --mount-proc true >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "LOUD SKIP: unshare -fp --mount-proc is not permitted here (needs root / user "
                    "namespaces)";
  constexpr int kJobs = 500;
  Agent agent{
      {"--max-running", "16", "--max-queued", "1000"}, {}, {"unshare", "-fp", "--mount-proc"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  EXPECT_NE(read_text(agent.data() + "/agent.log").find("PID 1"), std::string::npos)
      << "the agent does not know it is PID 1";
  auto t0 = Clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < kJobs; ++i)
    ids.push_back(agent.submit_ok(
        {{"command", {"sh", "-c", "(sleep 0.1 &); exit " + std::to_string(i % 100)}}}));
  for (int i = 0; i < kJobs; ++i) {
    json j = agent.wait_final(ids[i], 120s);
    EXPECT_EQ(j["exit_code"], i % 100) << j;
  }
  EXPECT_LT(Clock::now() - t0, 90s);
  auto metrics = agent.client().Get("/metrics");
  ASSERT_TRUE(metrics);
  // At the session level every shim is a child subreaper: the orphans go back to it, not to
  // the agent. At the cgroup level they are the agent's to reap.
  const char* level = std::getenv("TEND_SCOPE");
  if (!level || std::string(level) != "session") {
    EXPECT_EQ(metrics->body.find("tend_orphans_reaped_total 0\n"), std::string::npos)
        << "no orphan came back to the agent as PID 1";
  }
}
