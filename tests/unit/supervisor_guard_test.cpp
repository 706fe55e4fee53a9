// The guard (src/supervisor_guard.hpp): one per supervisor process, shared by its jobs. A
// supervisor killed with SIGKILL takes every job it had with it, also after its guard was killed
// and replaced; a Job abandoned by its supervisor is killed and its cgroup removed.
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sstream>

#include "supervisor_guard.hpp"
#include "tend/child.hpp"
#include "tend/job.hpp"
#include "test_support.hpp"

namespace tend {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What guard_helper said before "ready".
struct HelperReport {
  std::vector<pid_t> jobs;
  std::vector<std::string> cgroups;  // empty strings at the session level
  pid_t guard = -1;
  pid_t killed_guard = -1;
  bool ready = false;
  std::string text;
};

HelperReport read_report(int fd, std::chrono::milliseconds within) {
  HelperReport r;
  const auto deadline = Clock::now() + within;
  std::string buf;
  while (!r.ready && Clock::now() < deadline) {
    struct pollfd p {
      fd, POLLIN, 0
    };
    if (::poll(&p, 1, 100) <= 0) continue;
    char chunk[512];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    r.text = buf;
    r.ready = buf.find("ready\n") != std::string::npos;
  }
  std::istringstream in(buf);
  for (std::string word; in >> word;) {
    if (word == "job") {
      pid_t pid;
      in >> pid;
      std::string rest;
      std::getline(in, rest);
      r.jobs.push_back(pid);
      r.cgroups.push_back(rest.empty() ? "" : rest.substr(1));
    } else if (word == "guard") {
      in >> r.guard;
    } else if (word == "killed") {
      in >> word >> r.killed_guard;
    }
  }
  return r;
}

bool alive(pid_t pid) {
  auto st = test::read_stat(pid);
  return st && st->state != 'Z';
}

class GuardLevels : public test::ScopeLevelTest {
 protected:
  // Runs guard_helper with `args`, kills it with SIGKILL once ready, and checks that every job
  // it had is gone within the bound, its cgroup removed, and its guard gone.
  void kill_supervisor_and_check(std::vector<std::string> args, size_t jobs) {
    args.insert(args.begin(), {GUARD_HELPER, marker_});
    Command cmd(args);
    cmd.set_env("TEND_SCOPE", GetParam() == ScopeLevel::cgroup ? "cgroup" : "session");
    cmd.stdout_(Stdio::pipe());
    auto helper = spawn(cmd, nullptr);
    ASSERT_TRUE(helper) << helper.error().message();
    HelperReport r = read_report(helper->stdio_fd(1), 20s);
    ASSERT_TRUE(r.ready) << "guard_helper said: " << r.text;
    ASSERT_EQ(r.jobs.size(), jobs) << r.text;
    ASSERT_GT(r.guard, 0) << r.text;
    EXPECT_NE(r.guard, r.killed_guard) << "the killed guard was not replaced";
    EXPECT_TRUE(alive(r.guard));
    EXPECT_EQ(test::count_marked(marker_, 0ms), static_cast<int>(jobs));
    // One guard for all the jobs: the helper's only living child that is not a job.
    int guards = 0;
    for (pid_t kid : test::children_of(helper->pid())) guards += test::is_tend_guard(kid);
    EXPECT_EQ(guards, 1) << "one guard per supervisor";

    const auto killed_at = Clock::now();
    ASSERT_TRUE(helper->signal(SIGKILL));
    ASSERT_TRUE(helper->wait());
    // Generous: the suite runs with the CPUs oversubscribed 4x (measured: milliseconds).
    EXPECT_TRUE(test::wait_until([&] { return test::marked_pids(marker_).empty(); }, 5s))
        << "jobs outlived their supervisor";
    EXPECT_LT(Clock::now() - killed_at, 5s);
    for (const auto& cg : r.cgroups) {
      if (cg.empty()) continue;
      EXPECT_TRUE(test::wait_until([&] { return ::access(cg.c_str(), F_OK) != 0; }, 5s))
          << cg << " was not removed";
    }
    EXPECT_TRUE(test::wait_until([&] { return !alive(r.guard); }, 5s)) << "the guard is left";
  }
};

TEST_P(GuardLevels, OneGuardEndsEveryJobOfAKilledSupervisor) {
  kill_supervisor_and_check({"3"}, 3);
}

TEST_P(GuardLevels, AKilledGuardIsReplacedAndTheRunningJobsMoveToTheNewOne) {
  // Two jobs under the first guard, which is then killed; the third job starts a new one, which
  // must take the first two over.
  kill_supervisor_and_check({"3", "2"}, 3);
}

TEST_P(GuardLevels, ManyJobsAreAllTakenOverByTheGuard) {
  // More jobs than records between two nudges of the guard (supervisor_guard.cpp).
  kill_supervisor_and_check({"40"}, 40);
}

INSTANTIATE_TEST_SUITE_P(Levels, GuardLevels,
                         ::testing::Values(ScopeLevel::cgroup, ScopeLevel::session),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Guard, AnAbandonedJobIsKilledAndItsCgroupRemoved) {
  TEND_REQUIRE(test::cgroup_available(), "a writable cgroup v2: " << probe_cgroup().why_not);
  const std::string marker = test::new_marker();
  auto loop = Loop::create();
  ASSERT_TRUE(loop);
  auto job = Job::start(*loop, test::marked(Command({"sleep", "300"}), marker), {});
  ASSERT_TRUE(job) << job.error().message();
  const std::string cgroup = (*job)->scope()->cgroup_path();
  ASSERT_TRUE(test::wait_marked(marker, 1, 5s));
  job->reset();  // destroyed before it is done
  EXPECT_TRUE(test::wait_until([&] { return test::marked_pids(marker).empty(); }, 5s));
  EXPECT_TRUE(test::wait_until([&] { return ::access(cgroup.c_str(), F_OK) != 0; }, 5s))
      << cgroup << " was left behind";
  EXPECT_EQ(test::count_and_kill_marked(marker), 0u);
  // The next job gets a working cgroup, not the abandoned one.
  auto next = Job::start(*loop, Command({"true"}), {});
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_NE((*next)->scope()->cgroup_path(), cgroup);
  ASSERT_TRUE(loop->run_until([&] { return (*next)->done(); }));
  EXPECT_EQ((*next)->result().exit_code(), 0) << (*next)->result().describe();
}

TEST(Guard, AThousandJobsInARowNeverWaitForTheGuard) {
  // Every job writes to the guard; were it never made to read, the socket would fill after a few
  // hundred records and the next job would block. Generous bound: about 1 ms per job here.
  TEND_REQUIRE(test::cgroup_available(), "a writable cgroup v2: " << probe_cgroup().why_not);
  auto loop = Loop::create();
  ASSERT_TRUE(loop);
  const auto t0 = Clock::now();
  for (int i = 0; i < 1000; ++i) {
    auto job = Job::start(*loop, Command({"true"}), {});
    ASSERT_TRUE(job) << job.error().message();
    ASSERT_TRUE(loop->run_until([&] { return (*job)->done(); }));
    ASSERT_EQ((*job)->result().exit_code(), 0);
  }
  EXPECT_LT(Clock::now() - t0, 60s);
  // The guard keeps up: it holds the cgroup fds of at most the jobs of one unread batch.
  const pid_t guard = detail::guard_process_pid();
  ASSERT_GT(guard, 0);
  size_t fds = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(guard) + "/fd").c_str())) {
    while (auto* e = ::readdir(d)) fds += e->d_name[0] != '.';
    ::closedir(d);
  }
  EXPECT_LE(fds, 2u + 32u);
}

}  // namespace
}  // namespace tend
