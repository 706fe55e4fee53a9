// tend/process.hpp: the process table as libtend reads it, for processes it did not start.
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "tend/child.hpp"
#include "tend/process.hpp"
#include "test_support.hpp"

namespace tend {
namespace {

using namespace std::chrono_literals;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool readable_within(int fd, int ms) {
  struct pollfd p {
    fd, POLLIN, 0
  };
  return ::poll(&p, 1, ms) == 1;
}

class Process : public ::testing::Test {
 protected:
  void SetUp() override { marker_ = test::new_marker(); }
  void TearDown() override {
    EXPECT_EQ(test::count_and_kill_marked(marker_), 0u) << "a test process was left behind";
  }
  Expected<Child> spawn_marked(std::vector<std::string> argv) {
    return spawn(test::marked(Command(std::move(argv)), marker_));
  }
  std::string marker_;
};

TEST_F(Process, ReadsItself) {
  auto self = read_process(::getpid());
  ASSERT_TRUE(self);
  EXPECT_EQ(self->pid, ::getpid());
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_EQ(self->pgid, ::getpgrp());
  EXPECT_EQ(self->sid, ::getsid(0));
  EXPECT_EQ(self->state, 'R');
  // Started after boot, not in the future: uptime in clock ticks bounds it.
  double uptime = 0;
  std::ifstream("/proc/uptime") >> uptime;
  EXPECT_GT(self->start_time, 0u);
  EXPECT_LE(self->start_time,
            static_cast<unsigned long long>((uptime + 1) * ::sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(read_process(::getpid())->start_time, self->start_time);
}

TEST_F(Process, ReadsAChildWhoseNameHasSpacesAndParentheses) {
  // The command name in /proc/PID/stat is the executable's file name, parentheses and all.
  char dir[] = "/tmp/tend-process-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string link = std::string(dir) + "/a b) (c";
  ASSERT_EQ(::symlink("/usr/bin/sleep", link.c_str()), 0);
  auto child = spawn_marked({link, "300"});
  ::unlink(link.c_str());
  ::rmdir(dir);
  ASSERT_TRUE(child) << child.error().message();

  auto info = read_process(child->pid());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->ppid, ::getpid());
  EXPECT_NE(info->state, 'Z');
  EXPECT_STREQ(info->name, "a b) (c");  // spawn returns once the child has exec'd
  auto listed = list_processes();
  auto it = std::find_if(listed.begin(), listed.end(),
                         [&](const ProcessInfo& p) { return p.pid == child->pid(); });
  ASSERT_NE(it, listed.end()) << "the child is not in list_processes()";
  EXPECT_EQ(it->start_time, info->start_time);

  auto argv = process_cmdline(child->pid());
  ASSERT_TRUE(argv);
  EXPECT_EQ(*argv, (std::vector<std::string>{link, "300"}));
  auto env = process_environ(child->pid());
  ASSERT_TRUE(env);
  EXPECT_TRUE(contains(*env, "TEND_TEST_MARKER=" + marker_));

  ASSERT_TRUE(child->signal(SIGKILL));
  ASSERT_TRUE(child->wait());
}

TEST_F(Process, SignalsOnlyTheProcessItWasShown) {
  auto child = spawn_marked({"sleep", "300"});
  ASSERT_TRUE(child) << child.error().message();
  auto info = read_process(child->pid());
  ASSERT_TRUE(info);

  // Another start time is another process that had the same PID: it gets nothing.
  ProcessInfo recycled = *info;
  recycled.start_time += 1;
  EXPECT_FALSE(signal_process(recycled, SIGKILL));
  auto still = child->try_wait();
  ASSERT_TRUE(still);
  EXPECT_FALSE(*still) << "the child died from a signal meant for another process";

  EXPECT_TRUE(signal_process(*info, 0));
  EXPECT_TRUE(signal_process(*info, SIGKILL));
  auto st = child->wait();
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->signaled());
  EXPECT_EQ(st->value, SIGKILL);
  EXPECT_FALSE(signal_process(*info, 0)) << "a reaped process still counts as there";
}

TEST_F(Process, PidfdFollowsTheProcessToItsEnd) {
  auto child = spawn_marked({"sleep", "300"});
  ASSERT_TRUE(child) << child.error().message();
  const pid_t pid = child->pid();
  auto pidfd = open_pidfd(pid);
  ASSERT_TRUE(pidfd) << pidfd.error().message();
  EXPECT_FALSE(readable_within(pidfd->get(), 0));

  ASSERT_TRUE(child->signal(SIGKILL));
  ASSERT_TRUE(readable_within(pidfd->get(), 5000)) << "the pidfd did not report the exit";
  // Exited, not yet reaped: a zombie, with no command line left.
  auto zombie = read_process(pid);
  ASSERT_TRUE(zombie);
  EXPECT_EQ(zombie->state, 'Z');
  auto argv = process_cmdline(pid);
  ASSERT_TRUE(argv);
  EXPECT_TRUE(argv->empty());

  ASSERT_TRUE(child->wait());
  EXPECT_FALSE(read_process(pid));
  EXPECT_FALSE(process_cmdline(pid));
  EXPECT_FALSE(process_environ(pid));
  auto gone = open_pidfd(pid);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ESRCH) << gone.error().message();
}

}  // namespace
}  // namespace tend
