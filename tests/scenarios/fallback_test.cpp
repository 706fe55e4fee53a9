// When seccomp refuses clone3 (ENOSYS, as Docker's default profile does, or EPERM), tend falls
// back to clone(CLONE_PIDFD) + joining the cgroup before exec, still contains the whole tree,
// and reports the level it used.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace scenario {
namespace {

class SeccompFallback : public ::testing::TestWithParam<const char*> {};

TEST_P(SeccompFallback, Clone3RefusedStillContainsTheTree) {
  std::string marker = unique_marker();
  // deny_syscall is not tend: run it through sh so the harness's argv stays `tend ...`-shaped.
  std::string cmd = std::string(DENY_SYSCALL) + " clone3 " + GetParam() + " -- " + TEND_BINARY +
                    " run --json - -t 1 -k 1 -- sh -c 'setsid sleep 300 & exec sleep 300'";
  TendProcess::Options o;
  RunResult r = run_tend({"run", "--", "sh", "-c", cmd}, marker, o);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 4.0);
  size_t start = r.output.find('{');
  ASSERT_NE(start, std::string::npos) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(start), nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["spawn_level"], "clone") << "the level in force must be reported";
  EXPECT_EQ(j["leftovers_killed"], 1);
  EXPECT_EQ(count_marked(marker), 0);
}

INSTANTIATE_TEST_SUITE_P(Errnos, SeccompFallback, ::testing::Values("ENOSYS", "EPERM"));

TEST(SeccompFallbackPidfdOpen, StopSignalStillReachesEveryProcess) {
  // Without pidfd_open the stop sweep falls back to kill(2): the tree still gets SIGTERM and ends
  // within the grace (124, not 137).
  std::string marker = unique_marker();
  std::string cmd = std::string(DENY_SYSCALL) + " pidfd_open ENOSYS -- " + TEND_BINARY +
                    " run -t 1 -k 5 -- sh -c 'setsid sleep 300 & sleep 300 & wait'";
  RunResult r = run_tend({"run", "--", "sh", "-c", cmd}, marker);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 4.0);
  EXPECT_EQ(count_marked(marker), 0);
}

}  // namespace
}  // namespace scenario
