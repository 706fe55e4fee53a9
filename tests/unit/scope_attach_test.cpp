// Scope::attach: taking over an existing job cgroup (as the agent does for a job whose supervisor
// died) to kill what is in it and remove it, and refusing whatever is not a job cgroup.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "tend/child.hpp"
#include "tend/process.hpp"
#include "test_support.hpp"

namespace tend {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A cgroup made by Scope::create stands for the cgroup of a job whose supervisor died: the test
// keeps `made_` only so that the directory exists, and acts through the attached scope.
class ScopeAttach : public ::testing::Test {
 protected:
  void SetUp() override {
    TEND_REQUIRE(test::cgroup_available(), "a writable cgroup v2: " << probe_cgroup().why_not);
    marker_ = test::new_marker();
    ScopeOptions opts;
    opts.level = ScopeLevel::cgroup;
    auto s = Scope::create(opts);
    ASSERT_TRUE(s) << s.error().message();
    made_ = std::move(*s);
  }
  void TearDown() override {
    EXPECT_EQ(test::count_and_kill_marked(marker_), 0u) << "processes of the job were left behind";
  }

  Expected<Child> spawn_marked(const std::string& script) {
    return spawn(test::marked(Command({"sh", "-c", script}), marker_), made_.get());
  }

  std::string marker_;
  std::unique_ptr<Scope> made_;
};

TEST_F(ScopeAttach, KillsEverythingInTheCgroupAndRemovesIt) {
  auto child = spawn_marked("setsid sleep 300 & exec sleep 300");
  ASSERT_TRUE(child) << child.error().message();
  auto attached = Scope::attach(made_->cgroup_path());
  ASSERT_TRUE(attached) << attached.error().message();
  Scope& scope = **attached;
  EXPECT_EQ(scope.level(), ScopeLevel::cgroup);
  EXPECT_EQ(scope.cgroup_path(), made_->cgroup_path());
  EXPECT_GE(scope.events_fd(), 0);
  // The background sleep may still be on its way (sh has yet to fork it): waited for as a
  // condition, with a bound a loaded machine (an ASan build beside the rest of the suite) meets.
  auto deadline = Clock::now() + 20s;
  while (scope.pids().size() < 2 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  auto pids = scope.pids();
  EXPECT_EQ(pids.size(), 2u);
  EXPECT_NE(std::find(pids.begin(), pids.end(), child->pid()), pids.end());
  EXPECT_FALSE(scope.empty());

  ASSERT_TRUE(scope.kill_all());
  auto t0 = Clock::now();
  auto emptied = scope.wait_empty(5s);
  ASSERT_TRUE(emptied) << emptied.error().message();
  EXPECT_TRUE(*emptied);
  EXPECT_LT(Clock::now() - t0, 1s);

  auto st = child->wait();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(st->signaled());
  EXPECT_EQ(st->value, SIGKILL);
  EXPECT_FALSE(read_process(child->pid())) << "the main process is still in /proc";

  auto released = scope.release();
  EXPECT_TRUE(released) << released.error().message();
  EXPECT_FALSE(exists(made_->cgroup_path()));
}

TEST_F(ScopeAttach, WaitEmptyIsBoundedAndTheDestructorRemovesTheCgroup) {
  auto child = spawn_marked("exec sleep 300");
  ASSERT_TRUE(child) << child.error().message();
  auto attached = Scope::attach(made_->cgroup_path());
  ASSERT_TRUE(attached) << attached.error().message();

  auto t0 = Clock::now();
  auto emptied = (*attached)->wait_empty(100ms);
  auto waited = Clock::now() - t0;
  ASSERT_TRUE(emptied) << emptied.error().message();
  EXPECT_FALSE(*emptied);
  EXPECT_GE(waited, 100ms);
  EXPECT_LT(waited, 1s);

  // Killed from outside the scope: the attached scope sees it leave through cgroup.events.
  ASSERT_TRUE(child->signal(SIGKILL));
  emptied = (*attached)->wait_empty(5s);
  ASSERT_TRUE(emptied) << emptied.error().message();
  EXPECT_TRUE(*emptied);
  ASSERT_TRUE(child->wait());

  attached->reset();
  EXPECT_FALSE(exists(made_->cgroup_path()));
}

TEST_F(ScopeAttach, MakesNothingWhereThereIsNoCgroup) {
  const std::string missing = made_->cgroup_path() + "/no-such-job";
  auto attached = Scope::attach(missing);
  ASSERT_FALSE(attached);
  EXPECT_EQ(attached.error().code, ENOENT) << attached.error().message();
  EXPECT_FALSE(exists(missing));
}

// Two supervisors that chose the same name for their jobs' cgroups (as fleet agents on one host
// once did: a fleet job has one id on every machine): the second is refused, not silently given
// a session, which would contain its job less well than the caller thinks.
TEST(NamedScope, ANameAlreadyTakenIsAnErrorNotASession) {
  TEND_REQUIRE(test::cgroup_available(), "a writable cgroup v2: " << probe_cgroup().why_not);
  ScopeOptions opts;  // the automatic level, as the agent's shims use it
  opts.name = "tend-test-named-" + std::to_string(::getpid());
  auto first = Scope::create(opts);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ((*first)->level(), ScopeLevel::cgroup);
  auto second = Scope::create(opts);
  ASSERT_FALSE(second) << "got a scope at level " << to_string((*second)->level());
  EXPECT_EQ(second.error().code, EEXIST) << second.error().message();
  // Once the first is gone, the name is free again.
  first->reset();
  auto third = Scope::create(opts);
  ASSERT_TRUE(third) << third.error().message();
  EXPECT_EQ((*third)->level(), ScopeLevel::cgroup);
}

TEST(ScopeAttachRefuses, ADirectoryThatIsNoCgroup) {
  char dir[] = "/tmp/tend-attach-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  auto attached = Scope::attach(dir);
  ::rmdir(dir);
  ASSERT_FALSE(attached);
  EXPECT_EQ(attached.error().message(),
            std::string("attach cgroup ") + dir + ": not a cgroup v2 directory");
}

TEST(ScopeAttachRefuses, TheRootCgroup) {
  auto cg = probe_cgroup();
  TEND_REQUIRE(!cg.mount.empty(), "a cgroup v2 mount: " << cg.why_not);
  auto attached = Scope::attach(cg.mount);
  ASSERT_FALSE(attached);
  EXPECT_NE(attached.error().message().find("root cgroup"), std::string::npos)
      << attached.error().message();
}

}  // namespace
}  // namespace tend
