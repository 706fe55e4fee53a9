// Issue 11, drop-in: `tend timeout` keeps GNU timeout's statuses and timeline while containing
// the whole tree, and a tend run as `timeout` or `tini` is that tool. coreutils' and tini's own
// suites run in tests/compat; these are the cases those suites do not cover (the tree, the
// leftovers, tini's usage status).
#include <signal.h>

#include <sstream>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

using namespace std::chrono_literals;

class Timeout : public ScopeTest {
 protected:
  // `tend timeout ARGS...` at this test's level (tend timeout has no --scope: TEND_SCOPE).
  TendProcess::Options level(TendProcess::Options o = {}) const {
    o.env.push_back("TEND_SCOPE=" + GetParam());
    return o;
  }
  RunResult timeout(std::vector<std::string> args, TendProcess::Options o = {}) {
    args.insert(args.begin(), "timeout");
    return run_tend(args, marker_, level(std::move(o)));
  }
};
TEND_BOTH_LEVELS(Timeout);

TEST_P(Timeout, TimesOutTheWholeTreeWith124) {
  // A setsid grandchild escapes GNU timeout's process-group kill; not tend's scope.
  auto r = timeout({"0.5", "sh", "-c", "setsid sleep 60 & sleep 60"});
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 8.0);
  EXPECT_EQ(count_marked(marker_), 0) << "the setsid grandchild outlived tend timeout";
}

TEST_P(Timeout, KillAfterGives137AndNoKillAfterNeverSendsSigkill) {
  auto killed = timeout({"-k", "0.3", "0.2", "sh", "-c", "trap '' TERM; exec sleep 30"});
  ASSERT_TRUE(killed.finished) << killed.output;
  EXPECT_EQ(killed.exit_code, 137) << killed.output;
  EXPECT_LT(killed.elapsed_s, 8.0);
  // Without -k (and with -k 0) GNU sends nothing after the first signal: the command ends
  // itself, and the status is still 124.
  for (const char* k : {"", "0"}) {
    std::vector<std::string> args{"0.2", "sh", "-c", "trap '' TERM; exec sleep 1.5"};
    if (*k) args.insert(args.begin(), {"-k", k});
    auto r = timeout(args);
    ASSERT_TRUE(r.finished) << r.output;
    EXPECT_EQ(r.exit_code, 124) << "-k '" << k << "': " << r.output;
    EXPECT_GT(r.elapsed_s, 1.2) << "-k '" << k << "': SIGKILL was sent";
  }
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(Timeout, TermToTimeoutEndsWithTheCommandsOwnStatus) {
  // GNU: after TERM/INT to timeout itself, the command's status (not 124), and timeout dies of
  // the same signal when the command did.
  for (auto [script, want] :
       {std::pair<const char*, int>{"echo ready; exec sleep 30", 128 + SIGTERM},
        {"trap 'exit 3' TERM; echo ready; sleep 30 & wait", 3}}) {
    TendProcess p({"timeout", "30", "sh", "-c", script}, marker_, level());
    ASSERT_TRUE(p.wait_for_output("ready", 5s)) << script << ": " << p.output_so_far();
    ::kill(p.pid(), SIGTERM);
    auto r = p.finish();
    ASSERT_TRUE(r.finished) << r.output;
    EXPECT_EQ(r.exit_code, want) << script << ": " << r.output;
    EXPECT_EQ(count_marked(marker_), 0) << script;
  }
}

TEST_P(Timeout, AlrmToTimeoutTimesOutNow) {
  // coreutils' timeout-group.sh sends ALRM to trigger an outer timeout: it is the timer firing.
  TendProcess p({"timeout", "-v", "30", "sh", "-c", "echo ready; exec sleep 30"}, marker_, level());
  ASSERT_TRUE(p.wait_for_output("ready", 5s)) << p.output_so_far();
  ::kill(p.pid(), SIGALRM);
  auto r = p.finish();
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_NE(r.output.find("timeout: sending signal TERM to command 'sh'"), std::string::npos)
      << r.output;
}

TEST_P(Timeout, LeftoversOfACommandThatExitedAreStoppedWithinTheGrace) {
  // GNU returns at once and leaves the TERM-proof daemon running; tend stops it: TERM, then
  // SIGKILL after 10 s even without -k. The status stays the command's own.
  auto r = timeout({"30", "sh", "-c", "(trap '' TERM; exec sleep 60) & sleep 0.5; exit 5"}, {});
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_GT(r.elapsed_s, 8.0) << "the leftover was killed before its grace";
  EXPECT_LT(r.elapsed_s, 18.0);
  EXPECT_EQ(count_marked(marker_), 0);
}

// The hex mask on the line "Name:\t..." of a /proc/PID/status text.
uint64_t status_mask(const std::string& status, const std::string& name) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0)
      return std::stoull(line.substr(name.size() + 1), nullptr, 16);
  ADD_FAILURE() << "no " << name << " in: " << status;
  return 0;
}

TEST_P(Timeout, SignalsItActsOnReachTheCommandWithTheirDefaultAction) {
  // As GNU's handlers do: INT (acted on) is back to default in the command, PIPE (not acted on)
  // stays ignored as the caller left it (nohup, trap '' PIPE).
  TendProcess::Options o;
  o.ignored_signals = {SIGINT, SIGPIPE, SIGUSR1};
  auto r = timeout({"-s", "USR1", "5", "cat", "/proc/self/status"}, o);
  ASSERT_TRUE(r.finished) << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const uint64_t ignored = status_mask(r.output, "SigIgn");
  EXPECT_EQ(ignored & (1ULL << (SIGINT - 1)), 0u) << "INT still ignored";
  EXPECT_EQ(ignored & (1ULL << (SIGUSR1 - 1)), 0u) << "the -s signal still ignored";
  EXPECT_NE(ignored & (1ULL << (SIGPIPE - 1)), 0u) << "the caller's ignored PIPE was reset";
}

TEST_P(Timeout, RunAsTimeoutIsTendTimeout) {
  TendProcess::Options o = level();
  o.argv0 = "/usr/local/bin/timeout";
  auto r = run_tend({"-v", "0.2", "sleep", "30"}, marker_, o);
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 124) << r.output;
  // GNU names itself as it was run.
  EXPECT_NE(r.output.find("/usr/local/bin/timeout: sending signal TERM to command 'sleep'"),
            std::string::npos)
      << r.output;
}

TEST_P(Timeout, BadUsageIs125AndStartsNothing) {
  for (std::vector<std::string> args : {std::vector<std::string>{"1x", "true"},
                                        {"-s", "NOPE", "1", "true"},
                                        {"-k", "-1", "1", "true"},
                                        {"--bogus", "1", "true"},
                                        {"1"},
                                        {"nan", "true"}}) {
    auto r = timeout(args);
    ASSERT_TRUE(r.finished) << r.output;
    EXPECT_EQ(r.exit_code, 125) << args.front() << ": " << r.output;
    EXPECT_NE(r.output.find("Try 'timeout --help'"), std::string::npos) << r.output;
  }
}

TEST(Tini, RunAsTiniTakesTinisCommandLineAndStatuses) {
  std::string marker = unique_marker();
  TendProcess::Options o;
  o.argv0 = "tini";
  auto r = run_tend({"-e", "3", "--", "sh", "-c", "exit 3"}, marker, o);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_tend({"sh", "-c", "exit 4"}, marker, o);
  EXPECT_EQ(r.exit_code, 4) << r.output;
  for (std::vector<std::string> bad : {std::vector<std::string>{},
                                       {"-x", "true"},
                                       {"-e", "256", "true"},
                                       {"-p", "NOPE", "true"}}) {
    r = run_tend(bad, marker, o);
    EXPECT_EQ(r.exit_code, 1) << (bad.empty() ? "(none)" : bad.front()) << ": " << r.output;
  }
  r = run_tend({"--version"}, marker, o);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("tini version"), std::string::npos) << r.output;
  // ci/run_build.sh greps for it with TINI_VERBOSITY=3.
  o.env = {"TINI_VERBOSITY=3"};
  r = run_tend({"true"}, marker, o);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("Received SIGCHLD"), std::string::npos) << r.output;
  EXPECT_EQ(count_marked(marker), 0);
}

}  // namespace
}  // namespace scenario
