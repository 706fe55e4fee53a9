// The pool of emptied job cgroups (src/scope_pool.hpp) and the kept probe of the supervisor's own
// cgroup (src/scope.cpp): a reused cgroup reports only its own job's figures, a cgroup that was
// killed is never reused, and a supervisor moved to another cgroup still contains its jobs.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "scope_impl.hpp"
#include "sys/files.hpp"
#include "sys/procfs.hpp"
#include "tend/job.hpp"
#include "test_support.hpp"

namespace tend {
namespace {

using namespace std::chrono_literals;

// Sets TEND_CGROUP_POOL for one test and puts back what was there.
class PoolSetting {
 public:
  explicit PoolSetting(const char* value) {
    if (const char* old = std::getenv("TEND_CGROUP_POOL")) old_ = old;
    if (value)
      ::setenv("TEND_CGROUP_POOL", value, 1);
    else
      ::unsetenv("TEND_CGROUP_POOL");
  }
  ~PoolSetting() {
    if (old_)
      ::setenv("TEND_CGROUP_POOL", old_->c_str(), 1);
    else
      ::unsetenv("TEND_CGROUP_POOL");
  }

 private:
  std::optional<std::string> old_;
};

struct Ran {
  Result result;
  std::string cgroup;
};

Ran run_job(Loop& loop, const Command& cmd, JobOptions o = {}) {
  Ran ran;
  auto job = Job::start(loop, cmd, std::move(o));
  EXPECT_TRUE(job) << job.error().message();
  if (!job) return ran;
  ran.cgroup = (*job)->scope()->cgroup_path();
  EXPECT_TRUE(loop.run_until([&] { return (*job)->done(); }));
  ran.result = (*job)->result();
  return ran;
}

std::chrono::microseconds cpu_of(const Result& r) {
  return r.cpu_user.value_or(0us) + r.cpu_system.value_or(0us);
}

class ScopePool : public ::testing::Test {
 protected:
  void SetUp() override {
    TEND_REQUIRE(test::cgroup_available(), "a writable cgroup v2: " << probe_cgroup().why_not);
  }
  PoolSetting pool_on_{nullptr};
  Expected<Loop> loop_ = Loop::create();
};

TEST_F(ScopePool, AReusedCgroupReportsOnlyItsOwnJobsCpu) {
  // About a tenth of a second of CPU or more (a shell counting), then a job that uses almost none.
  Ran busy =
      run_job(*loop_, Command({"sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"}));
  ASSERT_EQ(busy.result.exit_code(), 0) << busy.result.describe();
  ASSERT_GE(cpu_of(busy.result), 50ms) << "the busy job's CPU time was not counted";
  Ran idle = run_job(*loop_, Command({"true"}));
  ASSERT_EQ(idle.result.exit_code(), 0) << idle.result.describe();
  ASSERT_EQ(idle.cgroup, busy.cgroup) << "the emptied cgroup was not reused: nothing tested";
  EXPECT_LT(cpu_of(idle.result), 40ms) << "the reused cgroup counted the previous job's CPU too";
  EXPECT_LT(cpu_of(idle.result), cpu_of(busy.result) / 2);
}

TEST_F(ScopePool, ACgroupStoppedWithCgroupKillIsNotReused) {
  JobOptions o;
  o.stop.grace = 0ms;
  auto job = Job::start(*loop_, Command({"sleep", "300"}), o);
  ASSERT_TRUE(job) << job.error().message();
  const std::string killed = (*job)->scope()->cgroup_path();
  TEND_REQUIRE(::access((killed + "/cgroup.kill").c_str(), F_OK) == 0, "cgroup.kill (Linux 5.14)");
  (*job)->stop();
  ASSERT_TRUE(loop_->run_until([&] { return (*job)->done(); }));
  EXPECT_TRUE((*job)->result().killed);
  job->reset();
  // Linux 6.18 killed processes later cloned into such a cgroup: it must be removed, not pooled.
  EXPECT_NE(::access(killed.c_str(), F_OK), 0) << killed << " was kept";
  Ran next = run_job(*loop_, Command({"true"}));
  EXPECT_NE(next.cgroup, killed);
  EXPECT_EQ(next.result.exit_code(), 0) << next.result.describe();
}

// A cgroup v2 directory made for one test, removed (with this process moved back out) after it.
class TempCgroup {
 public:
  explicit TempCgroup(std::string path) : path_(std::move(path)) {
    made_ = ::mkdir(path_.c_str(), 0755) == 0;
  }
  ~TempCgroup() {
    if (made_) ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  bool made() const { return made_; }
  bool enter() const { return static_cast<bool>(sys::write_file(path_ + "/cgroup.procs", "0")); }

 private:
  std::string path_;
  bool made_ = false;
};

bool starts_with_dir(const std::string& path, const std::string& dir) {
  return path.rfind(dir + "/", 0) == 0;
}

TEST(OwnCgroup, AMovedSupervisorStillContainsItsJobs) {
  TEND_REQUIRE(test::cgroup_available(), "a writable cgroup v2: " << probe_cgroup().why_not);
  const std::string mount = sys::cgroup2_mount();
  auto own = sys::own_cgroup_v2();
  ASSERT_TRUE(own);
  const std::string home = mount + (*own == "/" ? "" : *own);
  const std::string name = "tend-test-own-" + std::to_string(::getpid());
  // Declared in this order so that, whatever fails, this process is back home before they go.
  auto first = std::make_unique<TempCgroup>(home + "/" + name + "-a");
  TempCgroup second(home + "/" + name + "-b");
  struct GoHome {
    std::string home;
    ~GoHome() {
      (void)sys::write_file(home + "/cgroup.procs", "0");
      detail::forget_own_cgroup();  // the next tests probe afresh
    }
  } go_home{home};
  ASSERT_TRUE(first->made() && second.made()) << "mkdir under " << home;
  PoolSetting pool_off("0");  // no pooled cgroup may keep the first one from being removed
  auto loop = Loop::create();
  ASSERT_TRUE(loop);

  // This process's guard stays in the cgroup it was forked in (moving a process moves no other):
  // started here at home by a first job, so that it does not keep `first` from being removed.
  ASSERT_EQ(run_job(*loop, Command({"true"})).result.exit_code(), 0);

  ASSERT_TRUE(first->enter());
  detail::forget_own_cgroup();
  Ran one = run_job(*loop, Command({"true"}));
  EXPECT_TRUE(starts_with_dir(one.cgroup, first->path())) << one.cgroup;

  // Moved: the kept probe is stale. The job's cgroup is still made in the first place, and it
  // still holds the job, apart from this process, and is empty when the job is done.
  ASSERT_TRUE(second.enter());
  const std::string marker = test::new_marker();
  auto job = Job::start(*loop, test::marked(Command({"sleep", "300"}), marker), {});
  ASSERT_TRUE(job) << job.error().message();
  const std::string cgroup = (*job)->scope()->cgroup_path();
  EXPECT_TRUE(starts_with_dir(cgroup, first->path())) << cgroup;
  const pid_t pid = (*job)->result().pid;
  EXPECT_NE(test::read_text("/proc/" + std::to_string(pid) + "/cgroup")
                .find("0::" + cgroup.substr(mount.size()) + "\n"),
            std::string::npos)
      << "the job's process is not in its scope";
  EXPECT_EQ(test::read_text(second.path() + "/cgroup.procs").find(std::to_string(pid)),
            std::string::npos);
  (*job)->stop();
  ASSERT_TRUE(loop->run_until([&] { return (*job)->done(); }));
  EXPECT_TRUE((*job)->scope()->empty());
  job->reset();
  EXPECT_EQ(test::count_and_kill_marked(marker), 0u);

  // The first place goes away: the next job finds where this process is now.
  first.reset();
  ASSERT_NE(::access((home + "/" + name + "-a").c_str(), F_OK), 0) << "could not remove it";
  Ran three = run_job(*loop, Command({"true"}));
  EXPECT_EQ(three.result.exit_code(), 0) << three.result.describe();
  EXPECT_TRUE(starts_with_dir(three.cgroup, second.path())) << three.cgroup;
}

}  // namespace
}  // namespace tend
