// Scenarios 1-7: whatever the job starts, `tend run` ends it, and the output pipe reaches EOF.
#include <signal.h>

#include <fstream>
#include <thread>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

using namespace std::chrono_literals;

class Containment : public ScopeTest {};
TEND_BOTH_LEVELS(Containment);

TEST_P(Containment, TimeoutStopsASimpleJob) {
  auto r = run({"-t", "1", "-k", "1", "--", "sh", "-c", "sleep 300"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 2.5);
  EXPECT_GT(r.elapsed_s, 0.9) << "stopped before the timeout";
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, TimeoutStopsABackgroundChild) {
  auto r = run({"-t", "1", "-k", "1", "--", "sh", "-c", "sleep 300 & exec sleep 300"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 2.5);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, TimeoutStopsASetsidChildAndThePipeReachesEof) {
  // The setsid child keeps the output pipe open: finish() only returns once it is gone.
  auto r = run({"-t", "1", "-k", "1", "--", "sh", "-c", "setsid sleep 300 & exec sleep 300"});
  ASSERT_TRUE(r.finished) << "the output pipe never reached EOF";
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 2.5);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, TimeoutStopsADoubleForkedDaemon) {
  auto r = run({"-t", "1", "-k", "1", "--", "sh", "-c",
                "(setsid sleep 300 </dev/null >/dev/null 2>&1 &); exec sleep 300"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 2.5);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, IgnoredTermNeedsSigkillAfterTheGrace) {
  auto r = run({"-t", "1", "-k", "1", "--", "sh", "-c", "trap '' TERM; sleep 300 & wait"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 137) << r.output;
  EXPECT_GT(r.elapsed_s, 1.9) << "SIGKILL came before the grace ran out";
  EXPECT_LT(r.elapsed_s, 1 + 1 + 1.5);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, OrphansAreKilledWhenTheMainProcessExits) {
  auto r = run({"--", "sh", "-c", "setsid sleep 300 & exit 0"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(r.elapsed_s, 1.5) << "orphans=kill should end the job promptly";
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, OrphansWaitIsBoundedByTheTimeout) {
  auto r = run(
      {"--orphans", "wait", "-t", "2", "-k", "1", "--", "sh", "-c", "setsid sleep 300 & exit 0"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_GT(r.elapsed_s, 1.9) << "did not wait for the orphan";
  EXPECT_LT(r.elapsed_s, 3.5);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, OrphansWaitEndsWhenTheScopeEmpties) {
  auto r = run({"--orphans", "wait", "-t", "10", "--", "sh", "-c", "setsid sleep 1 & exit 0"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GT(r.elapsed_s, 0.9) << "did not wait for the orphan";
  EXPECT_LT(r.elapsed_s, 2.5) << "waited past the moment the scope was empty";
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, OrphansLeaveLeavesThemRunning) {
  // The leftover must not hold our pipe, or reading to EOF would wait for it.
  auto r = run({"--orphans", "leave", "--", "sh", "-c",
                "setsid sleep 300 </dev/null >/dev/null 2>&1 & exit 0"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(r.elapsed_s, 1.5);
  EXPECT_TRUE(wait_one_marked_running(marker_, "sleep", 10s))
      << "--orphans leave should leave the sleep running";
  EXPECT_EQ(kill_marked(marker_), 1);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Containment, MainKilledFromOutsideStopsTheRest) {
  TempDir dir;
  dir.write_file("sub.sh", "while :; do echo tick; sleep 1; done\n", 0755);
  std::string start = dir.write_file("start.sh", "#!/bin/sh\nsh " + dir.path + "/sub.sh\n", 0755);
  TendProcess p(run_args({"--", start}), marker_, {});
  ASSERT_TRUE(p.wait_for_output("tick", 5s)) << p.output_so_far();
  auto kids = children_of(p.pid());
  // tend's other child is its guard (a fork of tend, named so): not the job's.
  std::erase_if(kids, tend::test::is_tend_guard);
  ASSERT_EQ(kids.size(), 1u) << "expected start.sh as tend's only child";
  auto killed_at = Clock::now();
  ASSERT_EQ(::kill(kids[0], SIGKILL), 0);
  auto r = p.finish();
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 137) << r.output;
  double after_kill = std::chrono::duration<double>(Clock::now() - killed_at).count();
  EXPECT_LT(after_kill, 1.5) << "tend did not notice its main process died";
  EXPECT_EQ(count_marked(marker_), 0);
}

}  // namespace
}  // namespace scenario
