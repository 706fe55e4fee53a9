#include "tend/process_ref.hpp"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tend/child.hpp"
#include "test_support.hpp"

namespace tend {
namespace {

using namespace std::chrono_literals;
using Clock = ProcessRef::Clock;

class ProcessRefTest : public ::testing::Test {
 protected:
  void SetUp() override { marker_ = test::new_marker(); }
  void TearDown() override {
    EXPECT_EQ(test::count_and_kill_marked(marker_), 0u) << "a test process was left behind";
  }
  Child sleeper() {
    auto child = spawn(test::marked(Command({"sleep", "300"}), marker_));
    EXPECT_TRUE(child) << child.error().message();
    return child ? std::move(*child) : Child{};
  }
  std::string marker_;
};

TEST(ProcessRefZero, RefersToNothing) {
  ProcessRef none;
  EXPECT_EQ(none.pid(), -1);
  EXPECT_EQ(none.pidfd(), -1);
  EXPECT_FALSE(none.valid());
  EXPECT_FALSE(none.is_alive());
  EXPECT_EQ(none.start_time(), 0u);
  auto sent = none.signal(SIGKILL);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, EBADF);
  EXPECT_TRUE(none.wait_until(Clock::now() + 10s)) << "the zero value waits for nothing";
}

TEST_F(ProcessRefTest, SignalsWaitsAndSeesTheEnd) {
  Child child = sleeper();
  ASSERT_TRUE(child.valid());
  auto ref = ProcessRef::open(child.pid());
  ASSERT_TRUE(ref) << ref.error().message();
  EXPECT_EQ(ref->pid(), child.pid());
  EXPECT_TRUE(ref->is_alive());
  EXPECT_EQ(ref->start_time(), read_process(child.pid())->start_time);

  EXPECT_FALSE(ref->wait_until(Clock::now() + 50ms)) << "a sleeping process counted as exited";

  ASSERT_TRUE(ref->signal(SIGTERM));
  EXPECT_TRUE(ref->wait_until(Clock::now() + 30s));
  EXPECT_FALSE(ref->is_alive()) << "a zombie is not alive";

  // The ref does not reap: the Child still gets the status.
  auto st = child.wait();
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->signaled());
  EXPECT_EQ(st->value, SIGTERM);
  auto again = ref->signal(SIGKILL);
  ASSERT_FALSE(again) << "a reaped process took a signal";
  EXPECT_EQ(again.error().code, ESRCH);
}

TEST_F(ProcessRefTest, OpensAListedProcessOnlyIfItIsStillTheSame) {
  Child child = sleeper();
  auto info = read_process(child.pid());
  ASSERT_TRUE(info);
  ProcessInfo recycled = *info;
  recycled.start_time += 1;
  auto wrong = ProcessRef::open(recycled);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ESRCH);

  auto right = ProcessRef::open(*info);
  ASSERT_TRUE(right) << right.error().message();
  ASSERT_TRUE(right->signal(SIGKILL));
  ASSERT_TRUE(child.wait());
  EXPECT_FALSE(ProcessRef::open(*info)) << "a reaped process can be opened";
}

TEST_F(ProcessRefTest, ChildStandsOnItAndMovesItsRef) {
  Child child = sleeper();
  const pid_t pid = child.pid();
  EXPECT_EQ(child.process().pid(), pid);
  EXPECT_EQ(child.process().pidfd(), child.pidfd());
  EXPECT_EQ(child.process().start_time(), read_process(pid)->start_time);
  Child moved = std::move(child);
  EXPECT_EQ(child.pid(), -1);  // NOLINT(bugprone-use-after-move): the zero value is documented
  EXPECT_FALSE(child.process().valid());
  EXPECT_EQ(moved.pid(), pid);
  ASSERT_TRUE(moved.signal(SIGKILL));
  ASSERT_TRUE(moved.wait());
}

TEST(ExitStatusFromSiginfo, ExitedKilledDumped) {
  siginfo_t si{};
  si.si_code = CLD_EXITED;
  si.si_status = 3;
  ExitStatus st = ExitStatus::from_siginfo(si);
  EXPECT_TRUE(st.exited());
  EXPECT_EQ(st.value, 3);
  EXPECT_EQ(st.shell_code(), 3);

  si.si_code = CLD_KILLED;
  si.si_status = SIGTERM;
  st = ExitStatus::from_siginfo(si);
  EXPECT_TRUE(st.signaled());
  EXPECT_FALSE(st.core_dumped);
  EXPECT_EQ(st.shell_code(), 128 + SIGTERM);

  si.si_code = CLD_DUMPED;
  si.si_status = SIGSEGV;
  st = ExitStatus::from_siginfo(si);
  EXPECT_TRUE(st.signaled());
  EXPECT_TRUE(st.core_dumped);
  EXPECT_EQ(st.value, SIGSEGV);
}

TEST(ParsePidList, LinesSpacesAndJunk) {
  EXPECT_EQ(parse_pid_list(""), std::vector<pid_t>{});
  EXPECT_EQ(parse_pid_list("12\n345\n6\n"), (std::vector<pid_t>{12, 345, 6}));
  EXPECT_EQ(parse_pid_list("7 8 9 "), (std::vector<pid_t>{7, 8, 9}));
  EXPECT_EQ(parse_pid_list("  1\n\n 2"), (std::vector<pid_t>{1, 2}));
  // A number too large for a pid_t is skipped whole, not split into pieces.
  EXPECT_EQ(parse_pid_list("99999999999999999999 4"), (std::vector<pid_t>{4}));
}

TEST(SiblingExecutable, IsInTheDirectoryOfThisProgram) {
  auto self = sibling_executable("");
  ASSERT_TRUE(self) << self.error().message();
  ASSERT_FALSE(self->empty());
  EXPECT_EQ(self->back(), '/');
  auto sibling = sibling_executable("tend-agent");
  ASSERT_TRUE(sibling);
  EXPECT_EQ(*sibling, *self + "tend-agent");
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).rfind(*self, 0), 0u);
}

}  // namespace
}  // namespace tend
