// Issue 11, "Kernels since 5.3": older kernels, reproduced with seccomp filters that answer as
// they do. tend must fall back, still contain the whole tree, keep every fd of its own out of the
// job, and say what is missing.
//   * 5.9/5.10: close_range exists but refuses CLOSE_RANGE_CLOEXEC (EINVAL).
//   * 5.3/5.4: clone3 exists but its larger argument (CLONE_INTO_CGROUP's field) is E2BIG.
//   * 5.5/5.6: clone3 takes the size but not the CLONE_INTO_CGROUP flag (EINVAL).
//   * 5.3: pidfds, but waitid(P_PIDFD) is EINVAL.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace scenario {
namespace {

// `tend ARGS...` under deny_syscall NAME ERRNO, run through an outer `tend run` so that the
// harness's marker and safety timeout apply.
RunResult run_denied(const std::string& name, const std::string& err, const std::string& args,
                     const std::string& marker) {
  std::string cmd =
      std::string(DENY_SYSCALL) + " " + name + " " + err + " -- " + TEND_BINARY + " " + args;
  return run_tend({"run", "--", "sh", "-c", cmd}, marker);
}

nlohmann::json json_from(const std::string& output) {
  size_t start = output.find('{');
  if (start == std::string::npos) return nullptr;
  return nlohmann::json::parse(output.substr(start), nullptr, false);
}

TEST(OldKernelCloseRange, NoCloexecFlagStillKeepsTendsFdsFromTheJob) {
  std::string marker = unique_marker();
  // ls opens /proc/self/fd itself: that is the 3. Any other number is an fd of tend's.
  for (const char* scope : {"cgroup", "session"}) {
    if (std::string(scope) == "cgroup" && !cgroup_level_available()) continue;
    RunResult r = run_denied("close_range-cloexec", "EINVAL",
                             std::string("run --scope ") + scope + " -- ls /proc/self/fd", marker);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.exit_code, 0) << scope << ": " << r.output;
    EXPECT_EQ(r.output, "0\n1\n2\n3\n") << scope;
  }
}

TEST(OldKernelCloseRange, DoctorSaysCloseRangeIsMissing) {
  std::string marker = unique_marker();
  RunResult r = run_denied("close_range-cloexec", "EINVAL", "doctor --json", marker);
  ASSERT_TRUE(r.finished);
  auto j = json_from(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["close_range"], false) << r.output;
}

class OldKernelClone3 : public ::testing::TestWithParam<const char*> {};

TEST_P(OldKernelClone3, NoCloneIntoCgroupStillContainsTheTree) {
  if (!cgroup_level_available())
    GTEST_SKIP() << "SKIPPED LOUDLY: CLONE_INTO_CGROUP matters at the cgroup level only";
  std::string marker = unique_marker();
  RunResult r = run_denied("clone3-args", GetParam(),
                           "run --scope cgroup --json - -t 1 -k 1 -- sh -c 'setsid sleep 300 & "
                           "exec sleep 300'",
                           marker);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 4.0);
  auto j = json_from(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["spawn_level"], "clone") << "the level in force must be reported";
  EXPECT_EQ(j["leftovers_killed"], 1);
  EXPECT_EQ(count_marked(marker), 0);
}

TEST_P(OldKernelClone3, DoctorProbesCloneIntoCgroupForReal) {
  std::string marker = unique_marker();
  RunResult r = run_denied("clone3-args", GetParam(), "doctor --json", marker);
  ASSERT_TRUE(r.finished);
  auto j = json_from(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["clone3"], true) << "clone3 itself answers the probe as a 5.3 kernel does";
  EXPECT_EQ(j["clone_into_cgroup"], false) << r.output;
  EXPECT_EQ(j["spawn_level"], "clone") << r.output;
}

INSTANTIATE_TEST_SUITE_P(Errnos, OldKernelClone3, ::testing::Values("E2BIG", "EINVAL"));

class OldKernelWaitid : public ::testing::TestWithParam<const char*> {};

TEST_P(OldKernelWaitid, WithoutPidfdWaitsStatusesAndTimeoutsHold) {
  std::string marker = unique_marker();
  const std::string scope = GetParam();
  if (scope == "cgroup" && !cgroup_level_available())
    GTEST_SKIP() << "SKIPPED LOUDLY: no writable cgroup v2 here";
  RunResult r = run_denied("waitid-pidfd", "EINVAL",
                           "run --scope " + scope + " -- sh -c 'sleep 0.2; exit 3'", marker);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  r = run_denied("waitid-pidfd", "EINVAL",
                 "run --scope " + scope + " -t 1 -k 1 -- sh -c 'sleep 300 & exec sleep 300'",
                 marker);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 4.0);
  EXPECT_EQ(count_marked(marker), 0);
}

INSTANTIATE_TEST_SUITE_P(Levels, OldKernelWaitid, ::testing::Values("cgroup", "session"));

TEST(OldKernelWaitidDoctor, NamesWhatIsMissingAndWhatTendDoesInstead) {
  std::string marker = unique_marker();
  RunResult r = run_denied("waitid-pidfd", "EINVAL", "doctor --json", marker);
  ASSERT_TRUE(r.finished);
  auto j = json_from(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["waitid_pidfd"], false);
  EXPECT_EQ(j["minimum_kernel"], "5.3");
  bool named = false;
  for (const auto& m : j["missing"])
    named |= m["feature"] == "waitid(P_PIDFD)" && m["since"] == "5.4";
  EXPECT_TRUE(named) << j["missing"];
  // The text form says it too.
  r = run_denied("waitid-pidfd", "EINVAL", "doctor", marker);
  EXPECT_NE(r.output.find("waitid(P_PIDFD)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Linux 5.4; instead:"), std::string::npos) << r.output;
}

TEST(CurrentKernel, DoctorFindsCloneIntoCgroupAndCloseRange) {
  // This host's kernel (6.x) has both: a probe that always said "no" would pass the tests above.
  std::string marker = unique_marker();
  RunResult r = run_tend({"doctor", "--json"}, marker);
  ASSERT_TRUE(r.finished);
  auto j = json_from(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["clone_into_cgroup"], true) << r.output;
  EXPECT_EQ(j["close_range"], true) << r.output;
  EXPECT_EQ(j["waitid_pidfd"], true) << r.output;
  EXPECT_TRUE(j["missing"].empty()) << r.output;
}

}  // namespace
}  // namespace scenario
