// Scenarios 9-10: stdin passes through, signals to tend are forwarded or stop the job, and no fd
// of tend's leaks into the job.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

using namespace std::chrono_literals;

class IoAndSignals : public ScopeTest {};
TEND_BOTH_LEVELS(IoAndSignals);

TEST_P(IoAndSignals, StdinPassesThrough) {
  TendProcess::Options o;
  o.stdin_data = "hi\n";
  auto r = run({"--", "cat"}, o);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "hi\n");
}

TEST_P(IoAndSignals, Usr1IsForwardedToTheMainProcess) {
  TendProcess p(run_args({"--", "sh", "-c", "trap 'exit 42' USR1; echo ready; sleep 300 & wait"}),
                marker_, {});
  ASSERT_TRUE(p.wait_for_output("ready", 5s)) << p.output_so_far();
  ASSERT_EQ(::kill(p.pid(), SIGUSR1), 0);
  auto r = p.finish();
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 42) << r.output;
  EXPECT_EQ(count_marked(marker_), 0) << "the background sleep outlived the job";
}

TEST_P(IoAndSignals, TermToTendStopsTheTree) {
  TendProcess p(run_args({"--", "sh", "-c", "setsid sleep 300 & echo ready; sleep 300 & wait"}),
                marker_, {});
  ASSERT_TRUE(p.wait_for_output("ready", 5s)) << p.output_so_far();
  auto sent = Clock::now();
  ASSERT_EQ(::kill(p.pid(), SIGTERM), 0);
  auto r = p.finish();
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 143) << r.output;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - sent).count(), 2.0);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(IoAndSignals, SecondTermSkipsTheGrace) {
  TendProcess p(run_args({"-k", "30", "--", "sh", "-c", "trap '' TERM INT; echo ready; sleep 300"}),
                marker_, {});
  ASSERT_TRUE(p.wait_for_output("ready", 5s)) << p.output_so_far();
  ASSERT_EQ(::kill(p.pid(), SIGTERM), 0);
  std::this_thread::sleep_for(200ms);
  auto sent = Clock::now();
  ASSERT_EQ(::kill(p.pid(), SIGINT), 0);
  auto r = p.finish();
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 137) << r.output;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - sent).count(), 2.0)
      << "the second signal did not cut the 30s grace short";
  EXPECT_EQ(count_marked(marker_), 0);
}

std::string fds_of(const std::string& listing) {
  std::string out, line;
  std::istringstream in(listing);
  while (std::getline(in, line))
    if (!line.empty()) out += line + " ";
  return out;
}

TEST_P(IoAndSignals, NoFdOfTendLeaksIntoTheJob) {
  // ls opens /proc/self/fd itself: that is the 3.
  auto r = run({"--", "ls", "/proc/self/fd"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(fds_of(r.output), "0 1 2 3 ");

  TempDir dir;
  std::string out = dir.path + "/out.log", json = dir.path + "/result.json";
  auto f = run({"--json", json, "--output", out, "-t", "10", "--", "ls", "/proc/self/fd"});
  ASSERT_TRUE(f.finished);
  EXPECT_EQ(f.exit_code, 0) << f.output;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(fds_of(ss.str()), "0 1 2 3 ");
}

TEST_P(IoAndSignals, OutputFileGetsBothStreams) {
  TempDir dir;
  std::string out = dir.path + "/out.log";
  auto r = run({"--output", out, "--", "sh", "-c", "echo one; echo two >&2"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "");
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "one\ntwo\n");
}

TEST_P(IoAndSignals, EnvAndCwdOptions) {
  auto r = run({"--cwd", "/tmp", "--env", "TEND_A=1", "--unset", "HOME", "--", "sh", "-c",
                "echo \"$PWD $TEND_A ${HOME-unset}\""});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "/tmp 1 unset\n");
}

TEST_P(IoAndSignals, UserOptionSwitchesUidAndGroups) {
  TEND_REQUIRE(::geteuid() == 0, "root: --user needs it to switch users");
  TEND_REQUIRE(::getpwnam("nobody") != nullptr, "a user 'nobody'");
  auto r = run({"--user", "nobody", "--", "sh", "-c", "id -u; id -G"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::string uid = std::to_string(::getpwnam("nobody")->pw_uid);
  std::istringstream lines(r.output);
  std::string uid_line, groups_line, g;
  std::getline(lines, uid_line);
  std::getline(lines, groups_line);
  EXPECT_EQ(uid_line, uid) << r.output;
  std::istringstream groups(groups_line);
  bool primary = false;
  while (groups >> g) {
    EXPECT_NE(g, "0") << "root's group kept: " << r.output;
    primary |= g == std::to_string(::getpwnam("nobody")->pw_gid);
  }
  EXPECT_TRUE(primary) << "nobody's primary group missing: " << r.output;
}

}  // namespace
}  // namespace scenario
