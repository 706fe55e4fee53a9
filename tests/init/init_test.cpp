// `tend init` as a container entrypoint: PID 1 of a fresh PID namespace (unshare -fp), reaping,
// forwarding, stopping, exit statuses, a terminal, and zero wake-ups while idle.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proc_walk.hpp"
#include "require.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using tend::test::descendants;
using tend::test::named_tend_guard;
using tend::test::read_text;
using tend::test::wait_until;

constexpr const char* kTend = TEND_BINARY;

long context_switches(pid_t pid) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/status"));
  long total = 0;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
        line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
      total += std::atol(line.c_str() + line.find(':') + 1);
      found = true;
    }
  }
  return found ? total : -1;
}

// Whether a process below `root` runs `program` (exec'd: a forked shell that has not exec'd yet
// still has the shell's name).
bool runs_below(pid_t root, const std::string& program) {
  for (const auto& p : descendants(root))
    if (p.state != 'Z' && read_text("/proc/" + std::to_string(p.pid) + "/comm") == program + "\n")
      return true;
  return false;
}

#define REQUIRE_PIDNS()                                                                    \
  TEND_REQUIRE(tend::test::unshare_works(),                                                \
               "`unshare -fp --mount-proc` (root or user namespaces); PID-1 behaviour is " \
               "not tested")

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mark_ = tend::test::new_marker();
    marker_ = tend::test::marker_entry(mark_);
  }

  void TearDown() override {
    if (pid_ > 0) {  // a failed assertion left it running
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    // Give the kernel time to tear a namespace down, then insist nothing of ours is left.
    EXPECT_EQ(tend::test::count_marked(mark_, 5s), 0) << "processes of this test outlived it";
    tend::test::kill_marked(mark_);
  }

  std::string path(const std::string& name) const { return dir_.file(name); }

  // Starts `tend init INIT_ARGS -- COMMAND`, as PID 1 of a new PID namespace when `pidns`.
  void start(const std::vector<std::string>& init_args, const std::vector<std::string>& command,
             bool pidns = true) {
    std::vector<std::string> argv;
    if (pidns) argv = {"unshare", "-fp", "--mount-proc"};
    argv.push_back(kTend);
    argv.push_back("init");
    argv.insert(argv.end(), init_args.begin(), init_args.end());
    argv.push_back("--");
    argv.insert(argv.end(), command.begin(), command.end());
    pidns_ = pidns;
    started_ = Clock::now();
    const std::string err = path("stderr");
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ::dup2(fd, STDERR_FILENO) < 0) ::_exit(90);
      ::setpgid(0, 0);  // a stray Ctrl-C in the terminal running the tests does not reach it
      ::putenv(marker_.data());
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(91);
    }
  }

  // The tend init process: the child of unshare (PID 1 inside), or the one we started.
  pid_t init_pid() {
    if (!pidns_) return pid_;
    pid_t init = -1;
    wait_until(
        [&] {
          auto children = tend::test::children_of(pid_);
          if (!children.empty()) init = children.front();
          return init > 0;
        },
        10s);
    return init;
  }

  // Its exit status as a shell reports it, or -1 if it did not end within `limit`.
  int wait_exit(std::chrono::milliseconds limit) {
    auto deadline = started_ + limit;
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        ended_ = Clock::now();
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (Clock::now() > deadline) return -1;
      std::this_thread::sleep_for(5ms);
    }
  }

  bool wait_for_file(const std::string& name, std::chrono::milliseconds limit = 20s) {
    return wait_until([&] { return fs::exists(path(name)); }, limit);
  }

  std::string stderr_text() const { return read_text(path("stderr")); }
  double seconds_since(Clock::time_point t) const {
    return std::chrono::duration<double>(ended_ - t).count();
  }

  tend::test::TempDir dir_{"tend-init-test"};
  std::string mark_;    // the value count_marked looks for
  std::string marker_;  // TEND_TEST_MARKER=<mark_>, the environment entry (a shell prefix)
  pid_t pid_ = -1;
  bool pidns_ = true;
  Clock::time_point started_, ended_;
};

TEST_F(InitTest, ReapsFiveHundredOrphansAsTheyArrive) {
  REQUIRE_PIDNS();
  const std::string script = "for i in $(seq 500); do (sleep 0.2 &); done; touch " +
                             path("spawned") + "; until [ -f " + path("checked") +
                             " ]; do sleep 0.05; done";
  start({"-v"}, {"sh", "-c", script});
  ASSERT_TRUE(wait_for_file("spawned", 60s)) << stderr_text();
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  // Every orphan sleeps its 0.2 s and exits; init reaps each as it comes. Waited for as a
  // condition (a loaded machine takes longer), with a bound that a missing reap cannot meet.
  int zombies = -1, alive = -1;
  const bool settled = wait_until(
      [&] {
        zombies = alive = 0;
        for (const auto& p : descendants(init)) {
          // A job guard (a fork of init that kills the job if init dies) is not the job's.
          if (named_tend_guard(p.pid)) continue;
          (p.state == 'Z' ? zombies : alive)++;
        }
        return zombies == 0 && alive <= 2;
      },
      30s);
  EXPECT_TRUE(settled) << zombies << " zombies, " << alive << " alive";
  EXPECT_LE(alive, 2) << "only the main sh and its sleep should remain";
  { std::ofstream(path("checked")) << "\n"; }
  EXPECT_EQ(wait_exit(60s), 0) << stderr_text();
  // Each of the 500 sleeps was re-parented to init and reaped by it.
  const std::string err = stderr_text();
  int reaped = 0;
  for (size_t at = 0; (at = err.find("reaped orphan", at)) != std::string::npos; ++at) ++reaped;
  EXPECT_EQ(reaped, 500);
}

TEST_F(InitTest, SigtermReachesTrappingChildAndItsStatusIsMirrored) {
  REQUIRE_PIDNS();
  start({}, {"sh", "-c", "trap 'exit 7' TERM; sleep 30 & wait"});
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  // Only once the background child has exec'd `sleep` does a TERM kill it: before that it is a
  // copy of the shell, with the shell's trap, and would swallow the TERM (exit 7 is the main
  // shell's answer only).
  ASSERT_TRUE(wait_until([&] { return runs_below(init, "sleep"); }, 20s)) << stderr_text();
  const auto sent = Clock::now();
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(wait_exit(30s), 7) << stderr_text();
  EXPECT_LT(seconds_since(sent), 5.0) << "waited out the grace: the TERM was swallowed";
}

TEST_F(InitTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  REQUIRE_PIDNS();
  start({"--grace", "1s"},
        {"sh", "-c", "trap '' TERM; touch " + path("ready") + "; while :; do sleep 0.1; done"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  const auto sent = Clock::now();
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(wait_exit(30s), 137) << stderr_text();
  EXPECT_GE(seconds_since(sent), 0.9) << "SIGKILL came before the grace";
  EXPECT_LT(seconds_since(sent), 1.0 + 4.0);
}

TEST_F(InitTest, BackgroundProcessGetsSigtermAndExitsCleanlyWhenMainExits) {
  REQUIRE_PIDNS();
  const std::string background = "trap 'echo got TERM > " + path("bg-term") +
                                 "; exit 0' TERM; touch " + path("bg-ready") +
                                 "; while :; do sleep 0.1; done";
  const std::string script = "sh -c \"" + background + "\" & until [ -f " + path("bg-ready") +
                             " ]; do sleep 0.02; done; exit 3";
  start({}, {"sh", "-c", script});
  EXPECT_EQ(wait_exit(30s), 3) << stderr_text();
  EXPECT_LT(seconds_since(started_), 8.0) << "waited out the grace: something needed SIGKILL";
  EXPECT_EQ(read_text(path("bg-term")), "got TERM\n");
}

// A command line of `tend init` (no PID namespace) and the status it must end with.
struct ExitCase {
  const char* name;
  std::vector<std::string> init_args;
  std::vector<std::string> command;  // "@" stands for the test's directory
  int status;
  const char* in_stderr;  // "" : anything
};

class InitExit : public InitTest, public ::testing::WithParamInterface<ExitCase> {
 protected:
  std::vector<std::string> expand(std::vector<std::string> words) const {
    for (auto& w : words)
      if (auto at = w.find('@'); at != std::string::npos) w.replace(at, 1, path(""));
    return words;
  }
};

TEST_P(InitExit, EndsWithTheStatusOfTheRules) {
  const ExitCase& c = GetParam();
  // A script that is there but not executable (for the 126 case).
  const std::string script = path("script.sh");
  { std::ofstream(script) << "#!/bin/sh\nexit 0\n"; }
  ::chmod(script.c_str(), 0644);
  start(expand(c.init_args), expand(c.command), /*pidns=*/false);
  EXPECT_EQ(wait_exit(20s), c.status) << stderr_text();
  EXPECT_NE(stderr_text().find(c.in_stderr), std::string::npos) << stderr_text();
  EXPECT_FALSE(fs::exists(path("ran"))) << "a refused command line started the command";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InitExit,
    ::testing::Values(
        // Could not run the command: 126 / 127.
        ExitCase{"NotExecutable", {}, {"@script.sh"}, 126, "Permission denied"},
        ExitCase{"MissingPath", {}, {"@no-such-program"}, 127, ""},
        ExitCase{"MissingInPath", {}, {"no-such-program-in-path-xyz"}, 127, ""},
        // A bad option: 125 and nothing started.
        ExitCase{"BadGrace", {"--grace", "soon"}, {"touch", "@ran"}, 125, "--grace"},
        ExitCase{"BadOrphans", {"--orphans", "maybe"}, {"touch", "@ran"}, 125, "--orphans"},
        ExitCase{"UnknownOption", {"--no-such-option"}, {"touch", "@ran"}, 125, ""},
        ExitCase{"BadRewrite", {"--rewrite", "TERM:NOPE"}, {"touch", "@ran"}, 125, "--rewrite"},
        // -e CODE maps a status to 0, and only that one.
        ExitCase{"MappedExit", {"-e", "3", "-e", "4"}, {"sh", "-c", "exit 3"}, 0, ""},
        ExitCase{"UnmappedExit", {"-e", "3"}, {"sh", "-c", "exit 5"}, 5, ""},
        ExitCase{"MappedSignal", {"-e", "143"}, {"sh", "-c", "kill -TERM $$"}, 0, ""}),
    [](const ::testing::TestParamInfo<ExitCase>& info) { return std::string(info.param.name); });

TEST_F(InitTest, NoWakeUpsWhileIdle) {
  REQUIRE_PIDNS();
  start({}, {"sh", "-c", "touch " + path("ready") + "; exec sleep 30"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  // Settled: the job runs `sleep` (nothing left for init to do), plus time for its last steps.
  ASSERT_TRUE(wait_until([&] { return runs_below(init, "sleep"); }, 20s));
  std::this_thread::sleep_for(500ms);
  const long before = context_switches(init);
  ASSERT_GE(before, 0);
  std::this_thread::sleep_for(3s);
  const long after = context_switches(init);
  EXPECT_EQ(after - before, 0) << "tend init woke up while nothing happened";
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(wait_exit(30s), 128 + SIGTERM) << stderr_text();
}

// --rewrite: signals sent to init in order, what the job must have seen (its exit status).
struct RewriteCase {
  const char* name;
  std::vector<std::string> init_args;
  std::vector<int> signals;
  int status;
};

class InitRewrite : public InitTest, public ::testing::WithParamInterface<RewriteCase> {};

TEST_P(InitRewrite, TheJobSeesTheRewrittenSignal) {
  REQUIRE_PIDNS();
  const RewriteCase& c = GetParam();
  // Each signal the job can see has its own status. Not `sleep &`: a non-interactive sh makes
  // its background jobs ignore QUIT.
  start(c.init_args, {"sh", "-c",
                      "trap 'exit 9' TERM; trap 'exit 8' USR1; trap 'exit 10' HUP; trap 'exit 11' "
                      "QUIT; touch " +
                          path("ready") + "; while :; do sleep 0.1; done"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  const auto sent = Clock::now();
  for (size_t i = 0; i < c.signals.size(); ++i) {
    // A pause between signals: a signal that was wrongly passed on would end the job first.
    if (i > 0) std::this_thread::sleep_for(300ms);
    ASSERT_EQ(::kill(init, c.signals[i]), 0);
  }
  EXPECT_EQ(wait_exit(30s), c.status) << stderr_text();
  EXPECT_LT(seconds_since(sent), 8.0) << "waited out the grace: something needed SIGKILL";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InitRewrite,
    ::testing::Values(
        // USR1 arrives as TERM; HUP is dropped altogether.
        RewriteCase{"ForwardedSignal",
                    {"--rewrite", "USR1:TERM", "--rewrite", "HUP:0"},
                    {SIGHUP, SIGUSR1},
                    9},
        // SIGTERM to init still stops the job, with QUIT: every process gets QUIT.
        RewriteCase{"StopSignal", {"--rewrite", "TERM:QUIT"}, {SIGTERM}, 11}),
    [](const ::testing::TestParamInfo<RewriteCase>& info) { return std::string(info.param.name); });

// Who gets a signal forwarded to init: a background sh that is not the main process.
struct ForwardCase {
  const char* name;
  const char* flag;
  const char* launcher;  // how the main sh starts the background one
};

class InitForward : public InitTest, public ::testing::WithParamInterface<ForwardCase> {};

TEST_P(InitForward, ReachesTheBackgroundShell) {
  REQUIRE_PIDNS();
  const ForwardCase& c = GetParam();
  const std::string background = "trap 'echo bg >> " + path("got") + "; exit 0' USR1; touch " +
                                 path("ready") + "; while :; do sleep 0.1; done";
  start({c.flag}, {"sh", "-c",
                   "trap 'echo main >> " + path("got") + "' USR1; " + c.launcher + " sh -c \"" +
                       background + "\" & wait; wait"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  ASSERT_EQ(::kill(init, SIGUSR1), 0);
  EXPECT_EQ(wait_exit(30s), 0) << stderr_text();
  EXPECT_LT(seconds_since(started_), 15.0);
  const std::string got = read_text(path("got"));
  EXPECT_NE(got.find("main"), std::string::npos) << got;
  EXPECT_NE(got.find("bg"), std::string::npos) << got;
}

INSTANTIATE_TEST_SUITE_P(Cases, InitForward,
                         ::testing::Values(
                             // Same process group: -g reaches it (without it, it would loop on).
                             ForwardCase{"GroupFlag", "-g", ""},
                             // A session of its own: only --all (the job's scope) reaches it.
                             ForwardCase{"AllFlag", "--all", "setsid"}),
                         [](const ::testing::TestParamInfo<ForwardCase>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(InitTest, ParentDeathSignalStopsTheJob) {
  // The driver sh starts tend init in the background and exits: -p TERM makes that a SIGTERM to
  // init, which stops its job. Without it, the `sleep 30` would outlive the test.
  const std::string cmd = marker_ + " sh -c '" + kTend + " init -p TERM -- sh -c \"touch " +
                          path("ready") + "; exec sleep 30\" & until [ -f " + path("ready") +
                          " ]; do sleep 0.02; done'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(tend::test::count_marked(mark_, 10s), 0) << "the job outlived init's parent";
}

TEST_F(InitTest, CtrlCOnTheTerminalReachesTheChildNotTend) {
  TEND_REQUIRE(tend::test::command_succeeds("python3 -c 'import pty'"),
               "python3 with the pty module, to drive a terminal");
  // python3 gives tend a pseudo-terminal, waits for the child to be ready, types Ctrl-C, and
  // prints everything that appeared on the terminal; its exit status is tend's.
  const std::string driver = R"PY(
import os, pty, select, sys, time
tend = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(tend, [tend, "init", "-v", "--", "sh", "-c",
                    'trap "echo got-int; exit 5" INT; echo ready; sleep 30'])
out = b""
def pump(until, limit):
    global out
    end = time.time() + limit
    while time.time() < end and (until is None or until not in out):
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:
                return
            out += data
pump(b"ready", 10)
time.sleep(0.3)
os.write(fd, b"\x03")
pump(None, 10)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
)PY";
  { std::ofstream(path("driver.py")) << driver; }
  const std::string out = path("pty-out");
  const std::string cmd =
      marker_ + " python3 " + path("driver.py") + " " + kTend + " > " + out + " 2>&1";
  const auto t0 = Clock::now();
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  const std::string text = read_text(out);
  EXPECT_EQ(WEXITSTATUS(rc), 5) << text;
  EXPECT_NE(text.find("got-int"), std::string::npos) << text;
  // The terminal's foreground was the child's group: tend itself never saw the SIGINT.
  EXPECT_EQ(text.find("stopping"), std::string::npos) << text;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 15.0);
}

// Issue 11, item 5: as tini does (setpgid, then tcsetpgrp when there is a terminal), the child
// leads a process group of its own, with or without a terminal; tini's reaping test looks for
// the job by that group.
TEST_F(InitTest, ChildLeadsItsOwnProcessGroupWithoutATerminal) {
  // Fields 1 and 5 of /proc/PID/stat: the PID and its process group ("sh" has no space).
  start({}, {"sh", "-c", "cut -d' ' -f1,5 /proc/$$/stat > " + path("ids")}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(20s), 0) << stderr_text();
  std::istringstream ids(read_text(path("ids")));
  long pid = 0, pgrp = 0;
  ASSERT_TRUE(ids >> pid >> pgrp) << read_text(path("ids"));
  EXPECT_EQ(pgrp, pid) << "the child is not the leader of a process group of its own";
  EXPECT_NE(pgrp, static_cast<long>(::getpgrp()));
}

TEST_F(InitTest, ChildIsTheTerminalsForegroundGroup) {
  if (std::system("python3 -c 'import pty' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIPPED LOUDLY: python3 with the pty module is needed to drive a terminal";
  // Fields 1, 5 and 8 of /proc/PID/stat: PID, process group, the terminal's foreground group.
  const std::string driver = R"PY(
import os, pty, sys
tend = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(tend, [tend, "init", "--", "sh", "-c", "cut -d' ' -f1,5,8 /proc/$$/stat"])
out = b""
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
)PY";
  { std::ofstream(path("driver.py")) << driver; }
  const std::string out = path("pty-out");
  const std::string cmd =
      marker_ + " timeout 20 python3 " + path("driver.py") + " " + kTend + " > " + out + " 2>&1";
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 0) << read_text(out);
  std::istringstream ids(read_text(out));
  long pid = 0, pgrp = 0, tpgid = 0;
  ASSERT_TRUE(ids >> pid >> pgrp >> tpgid) << read_text(out);
  EXPECT_EQ(pgrp, pid) << read_text(out);
  EXPECT_EQ(tpgid, pgrp) << "the child's group is not the terminal's foreground";
}

}  // namespace
