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

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kTend = TEND_BINARY;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProcStat {
  pid_t pid;
  pid_t ppid;
  char state;
};

std::optional<ProcStat> read_stat(pid_t pid) {
  std::string text = read_text("/proc/" + std::to_string(pid) + "/stat");
  auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 4 > text.size()) return std::nullopt;
  ProcStat st{pid, 0, text[paren + 2]};
  st.ppid = std::atoi(text.c_str() + paren + 4);
  return st;
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (auto st = read_stat(std::stoi(name))) out.push_back(*st);
  }
  return out;
}

// Every process below `root` (not `root` itself), as this test sees them.
std::vector<ProcStat> descendants(pid_t root) {
  std::multimap<pid_t, ProcStat> by_parent;
  for (const auto& p : all_processes()) by_parent.emplace(p.ppid, p);
  std::vector<ProcStat> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t parent = todo.back();
    todo.pop_back();
    auto [lo, hi] = by_parent.equal_range(parent);
    for (auto it = lo; it != hi; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second.pid);
    }
  }
  return out;
}

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

// Processes anywhere on the machine whose environment holds `marker`.
int count_with_marker(const std::string& marker) {
  int n = 0;
  for (const auto& p : all_processes()) {
    if (p.pid == ::getpid()) continue;
    std::string env = read_text("/proc/" + std::to_string(p.pid) + "/environ");
    if (env.find(marker) != std::string::npos) ++n;
  }
  return n;
}

bool unshare_works() {
  static const bool works = [] {
    return std::system("unshare -fp --mount-proc true >/dev/null 2>&1") == 0;
  }();
  return works;
}

#define REQUIRE_PIDNS()                                                                    \
  do {                                                                                     \
    if (!unshare_works())                                                                  \
      GTEST_SKIP() << "SKIPPED LOUDLY: `unshare -fp --mount-proc` fails here (needs root " \
                      "or user namespaces); PID-1 behaviour is not tested";                \
  } while (0)

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tend-init-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    marker_ = "TEND_INIT_TEST_MARKER=" + fs::path(dir_).filename().string();
  }

  void TearDown() override {
    if (pid_ > 0) {  // a failed assertion left it running
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    // Give the kernel a moment to tear a namespace down, then insist nothing of ours is left.
    auto deadline = Clock::now() + 2s;
    while (count_with_marker(marker_) > 0 && Clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    EXPECT_EQ(count_with_marker(marker_), 0) << "processes of this test outlived it";
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

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
      ::putenv(const_cast<char*>(marker_.c_str()));
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
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      for (const auto& p : all_processes())
        if (p.ppid == pid_) return p.pid;
      std::this_thread::sleep_for(5ms);
    }
    return -1;
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

  bool wait_for_file(const std::string& name, std::chrono::milliseconds limit = 10s) {
    auto deadline = Clock::now() + limit;
    while (!fs::exists(path(name))) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  std::string stderr_text() const { return read_text(path("stderr")); }
  double seconds_since(Clock::time_point t) const {
    return std::chrono::duration<double>(ended_ - t).count();
  }

  std::string dir_, marker_;
  pid_t pid_ = -1;
  bool pidns_ = true;
  Clock::time_point started_, ended_;
};

TEST_F(InitTest, ReapsFiveHundredOrphansAsTheyArrive) {
  REQUIRE_PIDNS();
  const std::string script =
      "for i in $(seq 500); do (sleep 0.2 &); done; touch " + path("spawned") + "; sleep 1.5";
  start({"-v"}, {"sh", "-c", script});
  ASSERT_TRUE(wait_for_file("spawned", 60s)) << stderr_text();
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  std::this_thread::sleep_for(1s);  // every orphan has slept its 0.2 s and exited by now
  int zombies = 0, alive = 0;
  for (const auto& p : descendants(init)) {
    // init's job guard (a fork of init that kills the job if init dies) is not the job's.
    if (read_text("/proc/" + std::to_string(p.pid) + "/comm") == "tend-guard\n") continue;
    (p.state == 'Z' ? zombies : alive)++;
  }
  EXPECT_EQ(zombies, 0);
  EXPECT_LE(alive, 2) << "only the main sh and its sleep should remain";
  EXPECT_EQ(wait_exit(60s), 0) << stderr_text();
  // Each of the 500 sleeps was re-parented to init and reaped by it.
  const std::string err = stderr_text();
  int reaped = 0;
  for (size_t at = 0; (at = err.find("reaped orphan", at)) != std::string::npos; ++at) ++reaped;
  EXPECT_EQ(reaped, 500);
}

TEST_F(InitTest, SigtermReachesTrappingChildAndItsStatusIsMirrored) {
  REQUIRE_PIDNS();
  start({}, {"sh", "-c", "trap 'exit 7' TERM; touch " + path("ready") + "; sleep 30 & wait"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  const auto sent = Clock::now();
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(wait_exit(20s), 7) << stderr_text();
  EXPECT_LT(seconds_since(sent), 3.0);
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
  EXPECT_EQ(wait_exit(20s), 137) << stderr_text();
  EXPECT_GE(seconds_since(sent), 0.9) << "SIGKILL came before the grace";
  EXPECT_LT(seconds_since(sent), 1.0 + 1.5);
}

TEST_F(InitTest, BackgroundProcessGetsSigtermAndExitsCleanlyWhenMainExits) {
  REQUIRE_PIDNS();
  const std::string background = "trap 'echo got TERM > " + path("bg-term") +
                                 "; exit 0' TERM; touch " + path("bg-ready") +
                                 "; while :; do sleep 0.1; done";
  const std::string script = "sh -c \"" + background + "\" & until [ -f " + path("bg-ready") +
                             " ]; do sleep 0.02; done; exit 3";
  start({}, {"sh", "-c", script});
  EXPECT_EQ(wait_exit(20s), 3) << stderr_text();
  EXPECT_LT(seconds_since(started_), 5.0) << "waited out the grace: something needed SIGKILL";
  EXPECT_EQ(read_text(path("bg-term")), "got TERM\n");
}

TEST_F(InitTest, NotExecutableIs126AndMissingIs127) {
  const std::string script = path("script.sh");
  { std::ofstream(script) << "#!/bin/sh\nexit 0\n"; }
  ::chmod(script.c_str(), 0644);
  start({}, {script}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 126);
  EXPECT_NE(stderr_text().find("Permission denied"), std::string::npos) << stderr_text();

  start({}, {path("no-such-program")}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 127);
  start({}, {"no-such-program-in-path-xyz"}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 127);
}

TEST_F(InitTest, BadOptionIs125AndStartsNothing) {
  start({"--grace", "soon"}, {"touch", path("ran")}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 125);
  EXPECT_NE(stderr_text().find("--grace"), std::string::npos) << stderr_text();
  start({"--orphans", "maybe"}, {"touch", path("ran")}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 125);
  start({"--no-such-option"}, {"touch", path("ran")}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 125);
  start({"--rewrite", "TERM:NOPE"}, {"touch", path("ran")}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 125);
  EXPECT_FALSE(fs::exists(path("ran")));
}

TEST_F(InitTest, NoWakeUpsWhileIdle) {
  REQUIRE_PIDNS();
  start({}, {"sh", "-c", "touch " + path("ready") + "; exec sleep 30"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  std::this_thread::sleep_for(300ms);  // let the start-up settle
  const long before = context_switches(init);
  ASSERT_GE(before, 0);
  std::this_thread::sleep_for(3s);
  const long after = context_switches(init);
  EXPECT_EQ(after - before, 0) << "tend init woke up while nothing happened";
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(wait_exit(20s), 128 + SIGTERM) << stderr_text();
}

TEST_F(InitTest, ExitCodeMapping) {
  start({"-e", "3", "-e", "4"}, {"sh", "-c", "exit 3"}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 0);
  start({"-e", "3"}, {"sh", "-c", "exit 5"}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 5);
  start({"-e", "143"}, {"sh", "-c", "kill -TERM $$"}, /*pidns=*/false);
  EXPECT_EQ(wait_exit(10s), 0);
}

TEST_F(InitTest, RewriteChangesTheForwardedSignal) {
  REQUIRE_PIDNS();
  // USR1 arrives as TERM; HUP is dropped altogether.
  start({"--rewrite", "USR1:TERM", "--rewrite", "HUP:0"},
        {"sh", "-c",
         "trap 'exit 9' TERM; trap 'exit 8' USR1; trap 'exit 10' HUP; touch " + path("ready") +
             "; while :; do sleep 0.1; done"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  ASSERT_EQ(::kill(init, SIGHUP), 0);
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(::kill(init, SIGUSR1), 0);
  EXPECT_EQ(wait_exit(20s), 9) << stderr_text();
}

TEST_F(InitTest, RewrittenStopSignal) {
  REQUIRE_PIDNS();
  // SIGTERM to init still stops the job, with QUIT: every process gets QUIT. (Not `sleep &`:
  // a non-interactive sh makes its background jobs ignore QUIT.)
  start({"--rewrite", "TERM:QUIT"}, {"sh", "-c",
                                     "trap 'exit 9' TERM; trap 'exit 11' QUIT; touch " +
                                         path("ready") + "; while :; do sleep 0.1; done"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  const auto sent = Clock::now();
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(wait_exit(20s), 11) << stderr_text();
  EXPECT_LT(seconds_since(sent), 5.0) << "waited out the grace: something needed SIGKILL";
}

TEST_F(InitTest, GroupFlagForwardsToTheWholeProcessGroup) {
  REQUIRE_PIDNS();
  // Only with -g does the background sh (same process group, not the main process) get USR1;
  // without it, it would sit in its 30 s sleep.
  const std::string background = "trap 'echo bg >> " + path("got") + "; exit 0' USR1; touch " +
                                 path("ready") + "; sleep 30 & wait";
  start({"-g"}, {"sh", "-c",
                 "trap 'echo main >> " + path("got") + "' USR1; sh -c \"" + background +
                     "\" & wait; wait"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  ASSERT_EQ(::kill(init, SIGUSR1), 0);
  EXPECT_EQ(wait_exit(20s), 0) << stderr_text();
  EXPECT_LT(seconds_since(started_), 10.0);
  const std::string got = read_text(path("got"));
  EXPECT_NE(got.find("main"), std::string::npos) << got;
  EXPECT_NE(got.find("bg"), std::string::npos) << got;
}

TEST_F(InitTest, AllFlagForwardsToEveryProcessOfTheJob) {
  REQUIRE_PIDNS();
  // The background sh is in a session of its own: only --all (the job's scope) reaches it.
  const std::string background = "trap 'echo bg >> " + path("got") + "; exit 0' USR1; touch " +
                                 path("ready") + "; while :; do sleep 0.1; done";
  start({"--all"}, {"sh", "-c",
                    "trap 'echo main >> " + path("got") + "' USR1; setsid sh -c \"" + background +
                        "\" & wait; wait"});
  ASSERT_TRUE(wait_for_file("ready"));
  const pid_t init = init_pid();
  ASSERT_GT(init, 0);
  ASSERT_EQ(::kill(init, SIGUSR1), 0);
  EXPECT_EQ(wait_exit(20s), 0) << stderr_text();
  EXPECT_LT(seconds_since(started_), 10.0);
  const std::string got = read_text(path("got"));
  EXPECT_NE(got.find("main"), std::string::npos) << got;
  EXPECT_NE(got.find("bg"), std::string::npos) << got;
}

TEST_F(InitTest, ParentDeathSignalStopsTheJob) {
  // The driver sh starts tend init in the background and exits: -p TERM makes that a SIGTERM to
  // init, which stops its job. Without it, the `sleep 30` would outlive the test.
  const std::string cmd = marker_ + " sh -c '" + kTend + " init -p TERM -- sh -c \"touch " +
                          path("ready") + "; exec sleep 30\" & until [ -f " + path("ready") +
                          " ]; do sleep 0.02; done'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto deadline = Clock::now() + 5s;
  while (count_with_marker(marker_) > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(count_with_marker(marker_), 0) << "the job outlived init's parent";
}

TEST_F(InitTest, CtrlCOnTheTerminalReachesTheChildNotTend) {
  if (std::system("python3 -c 'import pty' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIPPED LOUDLY: python3 with the pty module is needed to drive a terminal";
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
