// An inherited SIG_IGN for SIGCHLD must not break libtend's waits (the kernel would reap the
// children itself); the job still gets the ignored disposition tend's caller chose.
#include <gtest/gtest.h>
#include <signal.h>

#include "tend/inherited_signals.hpp"
#include "tend/job.hpp"

namespace tend {
namespace {

class IgnoredSigchld : public ::testing::Test {
 protected:
  void SetUp() override {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGCHLD, &ign, &saved_), 0);
  }
  void TearDown() override { ::sigaction(SIGCHLD, &saved_, nullptr); }
  struct sigaction saved_ {};
};

TEST_F(IgnoredSigchld, JobStillSeesItsMainProcessExit) {
  JobOptions o;
  o.timeout = std::chrono::seconds(10);
  auto r = run(Command({"sh", "-c", "exit 3"}), o);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->status.has_value());
  EXPECT_EQ(r->status->shell_code(), 3);
  EXPECT_EQ(r->reason, EndReason::exited);
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGCHLD, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_DFL) << "the supervisor must be able to wait for its children";
}

TEST(InheritedSignals, RecordedBeforeMainAndNotChangedLater) {
  // Whatever this test binary was given, the record is a snapshot: blocking a signal now does
  // not change what jobs get.
  const bool before = sigismember(&inherited_signals().mask, SIGUSR2) == 1;
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &set, &old), 0);
  EXPECT_EQ(sigismember(&inherited_signals().mask, SIGUSR2) == 1, before);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace
}  // namespace tend
