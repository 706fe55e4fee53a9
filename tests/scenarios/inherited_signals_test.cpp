// Issue 11, items 1, 2, 4: tend under every inherited signal setting.
//   * An inherited SIG_IGN for SIGCHLD (the kernel then reaps tend's children itself) must not
//     make tend spin or miss the job's end (coreutils' timeout tests T09/X19).
//   * The job gets the ignored signals and the mask tend was started with (nohup, trap '' PIPE),
//     not tend's own signalfd mask or SIGPIPE handling.
//   * No signal whose default action ends a process ends `tend run` and leaves the job running:
//     each is passed on to the job; a SIGPIPE from tend's own -v output is not fatal.
#include <signal.h>
#include <sys/resource.h>

#include <sstream>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

using namespace std::chrono_literals;

// CPU seconds used by reaped children since the last call (the harness reaps tend).
double children_cpu_since(double& last) {
  struct rusage ru {};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  double now =
      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  double d = now - last;
  last = now;
  return d;
}

// The hex mask on the line "Name:\t..." of a /proc/PID/status text.
uint64_t status_mask(const std::string& status, const std::string& name) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0)
      return std::stoull(line.substr(name.size() + 1), nullptr, 16);
  ADD_FAILURE() << "no " << name << " in: " << status;
  return ~0ULL;
}

uint64_t bit(int sig) {
  return 1ULL << (sig - 1);
}

class InheritedSignals : public ScopeTest {};
TEND_BOTH_LEVELS(InheritedSignals);

TEST_P(InheritedSignals, IgnoredSigchldNeitherSpinsNorHangs) {
  TendProcess::Options o;
  o.ignored_signals = {SIGCHLD};
  double cpu = 0;
  children_cpu_since(cpu);
  auto r = run({"-t", "5", "--", "sh", "-c", "sleep 0.5; exit 3"}, o);
  double used = children_cpu_since(cpu);
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_LT(r.elapsed_s, 4.0) << "the job's end was not seen";
  EXPECT_LT(used, 0.3) << "tend used the CPU while waiting (waitid ECHILD loop?)";
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(InheritedSignals, IgnoredSigchldStillTimesOut) {
  TendProcess::Options o;
  o.ignored_signals = {SIGCHLD};
  auto r = run({"-t", "1", "-k", "2", "--", "sh", "-c", "sleep 300 & exec sleep 300"}, o);
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 124) << r.output;
  EXPECT_LT(r.elapsed_s, 4.0);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(InheritedSignals, IgnoredSigchldTrueReturnsAtOnce) {
  // The reproducer: `perl -e '$SIG{CHLD}="IGNORE"; exec @ARGV' tend run -t 2 -- true`.
  TendProcess::Options o;
  o.ignored_signals = {SIGCHLD};
  double cpu = 0;
  children_cpu_since(cpu);
  auto r = run({"-t", "2", "--", "true"}, o);
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(r.elapsed_s, 1.5);
  EXPECT_LT(children_cpu_since(cpu), 0.3);
}

TEST_P(InheritedSignals, JobGetsTheIgnoredSetAndMaskTendWasGiven) {
  TendProcess::Options o;
  o.ignored_signals = {SIGHUP, SIGPIPE, SIGCHLD};  // nohup; trap '' PIPE; perl's IGNORE
  o.blocked_signals = {SIGUSR1, SIGWINCH};
  auto r = run({"--", "cat", "/proc/self/status"}, o);
  ASSERT_TRUE(r.finished);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(status_mask(r.output, "SigIgn"), bit(SIGHUP) | bit(SIGPIPE) | bit(SIGCHLD)) << r.output;
  EXPECT_EQ(status_mask(r.output, "SigBlk"), bit(SIGUSR1) | bit(SIGWINCH)) << r.output;
}

TEST_P(InheritedSignals, JobGetsDefaultsWhenTendWasGivenDefaults) {
  // tend blocks every signal for its signalfd and ignores nothing of the job's: none of it leaks.
  auto r = run({"--", "cat", "/proc/self/status"});
  ASSERT_TRUE(r.finished);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(status_mask(r.output, "SigIgn"), 0u) << r.output;
  EXPECT_EQ(status_mask(r.output, "SigBlk"), 0u) << r.output;
}

TEST(InheritedSignalsInit, IgnoredSigchldNeitherSpinsNorHangs) {
  std::string marker = unique_marker();
  TendProcess::Options o;
  o.ignored_signals = {SIGCHLD};
  double cpu = 0;
  children_cpu_since(cpu);
  auto r = run_tend({"init", "--", "sh", "-c", "sleep 0.5 & sleep 0.2; exit 3"}, marker, o);
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_LT(r.elapsed_s, 4.0);
  EXPECT_LT(children_cpu_since(cpu), 0.3);
  EXPECT_EQ(count_marked(marker), 0);
}

TEST(InheritedSignalsInit, JobGetsTheIgnoredSetAndMaskTendWasGiven) {
  std::string marker = unique_marker();
  TendProcess::Options o;
  o.ignored_signals = {SIGHUP, SIGPIPE};
  o.blocked_signals = {SIGUSR2};
  auto r = run_tend({"init", "--", "cat", "/proc/self/status"}, marker, o);
  ASSERT_TRUE(r.finished);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(status_mask(r.output, "SigIgn"), bit(SIGHUP) | bit(SIGPIPE)) << r.output;
  EXPECT_EQ(status_mask(r.output, "SigBlk"), bit(SIGUSR2)) << r.output;
}

// Each signal that would end tend by default is passed on to the job: the job dies of it, tend
// reports 128+N, and nothing of the job is left.
struct SignalCase {
  int sig;
  const char* name;
};

class SignalsToRun : public ::testing::TestWithParam<SignalCase> {
 protected:
  void TearDown() override { kill_marked(marker_); }
  std::string marker_ = unique_marker();
};

TEST_P(SignalsToRun, IsPassedOnAndTendDoesNotDieOfIt) {
  const int sig = GetParam().sig;
  // No core files from the signals whose default action dumps one.
  TendProcess p({"run", "-t", "20", "--", "sh", "-c", "ulimit -c 0; echo ready; exec sleep 30"},
                marker_, {});
  ASSERT_TRUE(p.wait_for_output("ready", 5s)) << p.output_so_far();
  ASSERT_EQ(::kill(p.pid(), sig), 0);
  auto r = p.finish();
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 128 + sig) << "tend must report the job killed by the signal, not die "
                                       "of it itself: "
                                    << r.output;
  EXPECT_LT(r.elapsed_s, 10.0);
  EXPECT_EQ(count_marked(marker_), 0) << "the job outlived tend";
}

INSTANTIATE_TEST_SUITE_P(Signals, SignalsToRun,
                         ::testing::Values(SignalCase{SIGALRM, "ALRM"}, SignalCase{SIGPIPE, "PIPE"},
                                           SignalCase{SIGVTALRM, "VTALRM"},
                                           SignalCase{SIGPROF, "PROF"}, SignalCase{SIGXCPU, "XCPU"},
                                           SignalCase{SIGXFSZ, "XFSZ"}, SignalCase{SIGSYS, "SYS"},
                                           SignalCase{SIGTRAP, "TRAP"},
                                           SignalCase{SIGSTKFLT, "STKFLT"},
                                           SignalCase{SIGPWR, "PWR"}, SignalCase{SIGUSR1, "USR1"},
                                           SignalCase{SIGUSR2, "USR2"}, SignalCase{SIGHUP, "HUP"},
                                           SignalCase{SIGQUIT, "QUIT"}, SignalCase{SIGIO, "IO"},
                                           SignalCase{SIGABRT, "ABRT"}, SignalCase{SIGSEGV, "SEGV"},
                                           SignalCase{34, "RTMIN"}, SignalCase{64, "RTMAX"}),
                         [](const ::testing::TestParamInfo<SignalCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(SignalsToRunVerbose, WritingIntoAClosedPipeIsNotFatal) {
  // tend's -v lines go to a pipe whose reader has gone: the writes fail with EPIPE, tend goes on
  // supervising and exits with the job's status.
  std::string marker = unique_marker();
  std::string script = std::string("exec 3>&1; ( \"") + TEND_BINARY +
                       "\" run -v -- sh -c 'sleep 0.5; exit 7' 2>&1; echo \"tend=$?\" >&3 ) "
                       "| true";
  auto r = run_tend({"run", "--", "sh", "-c", script}, marker);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tend=7"), std::string::npos) << r.output;
  EXPECT_EQ(count_marked(marker), 0);
}

}  // namespace
}  // namespace scenario
