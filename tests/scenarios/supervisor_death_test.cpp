// Issue 11, item 3: `kill -9` of `tend run` must not leave the job running. Its guard (a fork of
// tend outside the job's scope, named tend-guard) kills the whole scope as soon as tend is gone;
// the bound asserted here is generous (2 s) for an oversubscribed machine, the measured one is
// in docs/benchmarks.md.
#include <signal.h>

#include <fstream>
#include <thread>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

using namespace std::chrono_literals;

class SupervisorDeath : public ScopeTest {};
TEND_BOTH_LEVELS(SupervisorDeath);

TEST_P(SupervisorDeath, KillNineOfTendKillsTheJob) {
  // At the cgroup level the setsid'd sleep is reached too; at the session level the guard kills
  // the job's session leader's group (the bound documented for that level).
  const bool cgroup = GetParam() == "cgroup";
  std::string script = cgroup ? "setsid sleep 300 & sleep 300 & echo ready; wait"
                              : "sleep 300 & echo ready; exec sleep 300";
  TendProcess p(run_args({"-t", "600", "--", "sh", "-c", script}), marker_, {});
  ASSERT_TRUE(p.wait_for_output("ready", 5s)) << p.output_so_far();
  std::this_thread::sleep_for(100ms);
  ASSERT_GE(count_marked(marker_, 0ms), 3) << "tend, its guard and the job should be running";
  auto killed_at = Clock::now();
  ASSERT_EQ(::kill(p.pid(), SIGKILL), 0);
  // The pipe reaches EOF only when every job process holding it is gone.
  auto r = p.finish(10s);
  ASSERT_TRUE(r.finished) << "the job kept tend's output pipe open: it outlived tend";
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  double after = std::chrono::duration<double>(Clock::now() - killed_at).count();
  EXPECT_LT(after, 2.0) << "the job outlived tend by more than the bound";
  EXPECT_EQ(count_marked(marker_), 0) << "processes of the job (or the guard) are left";
}

TEST_P(SupervisorDeath, NormalEndLeavesNoGuardBehind) {
  auto r = run({"--", "true"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(count_marked(marker_), 0) << "a guard outlived a normal run";
}

// --orphans leave (a decision, not a death): Containment.OrphansLeaveLeavesThemRunning checks
// that the guard leaves those processes alone.

}  // namespace
}  // namespace scenario
