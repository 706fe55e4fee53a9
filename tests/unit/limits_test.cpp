// Limits in libtend: parsing and validation of values, the Result's account of an OOM kill, and a
// real job under v1 or v2 limits (whichever this host has) whose groups are joined before exec
// and removed at the end.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tend/job.hpp"
#include "tend/limits.hpp"
#include "tend/parse.hpp"
#include "tend/result.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;

namespace tend {
namespace {

TEST(ParseSize, UnitsAndErrors) {
  EXPECT_EQ(*parse_size("65536"), 65536u);
  EXPECT_EQ(*parse_size("64K"), 64u << 10);
  EXPECT_EQ(*parse_size("64KiB"), 64u << 10);
  EXPECT_EQ(*parse_size("512M"), 512u << 20);
  EXPECT_EQ(*parse_size("512m"), 512u << 20);
  EXPECT_EQ(*parse_size("2G"), uint64_t{2} << 30);
  EXPECT_EQ(*parse_size("1T"), uint64_t{1} << 40);
  for (const char* bad : {"", "M", "-1", "1.5G", "64X", "lots", " 64M", "64M ",
                          "99999999999999999999", "20000000T"}) {
    auto r = parse_size(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().detail.find("examples"), std::string::npos);
    }
  }
}

TEST(FormatSize, ReadableUnits) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(64 << 20), "64 MiB");
  EXPECT_EQ(format_size(uint64_t{3} << 29), "1.5 GiB");
}

TEST(ValidateLimits, Ranges) {
  Limits ok;
  ok.memory_max = 64 << 20;
  ok.pids_max = 50;
  ok.cpus = 0.2;
  EXPECT_EQ(validate(ok), "");
  Limits l = ok;
  l.memory_max = 4096;
  EXPECT_NE(validate(l), "");
  l = ok;
  l.memory_high = 128 << 20;
  EXPECT_NE(validate(l), "") << "high above max";
  l = ok;
  l.pids_max = 0;
  EXPECT_NE(validate(l), "");
  l = ok;
  l.cpus = 0;
  EXPECT_NE(validate(l), "");
  l.cpus = -1;
  EXPECT_NE(validate(l), "");
  l.cpus = std::nan("");
  EXPECT_NE(validate(l), "");
  l = ok;
  l.cpu_weight = 0;
  EXPECT_NE(validate(l), "");
  EXPECT_FALSE(Limits{}.any());
  EXPECT_TRUE(ok.any());
}

Result oom_result() {
  Result r;
  r.reason = EndReason::exited;
  r.status = ExitStatus{ExitStatus::Kind::signaled, SIGKILL, false};
  r.limits_level = LimitsLevel::cgroup1;
  r.memory_limit_bytes = 64 << 20;
  r.oom_killed = true;
  r.oom_kills = 1;
  r.peak_processes = 3;
  r.pids_refused = 0;
  r.cpu_throttled = 1500us;
  return r;
}

TEST(ResultLimits, OomKillIsSaidPlainly) {
  Result r = oom_result();
  EXPECT_TRUE(r.main_oom_killed());
  EXPECT_EQ(r.describe(), "out of memory (limit 64 MiB)");
  EXPECT_EQ(r.exit_code(), 137);
  // SIGKILL sent by tend's own stop is not the OOM killer's, even if a child was OOM-killed.
  Result stopped = r;
  stopped.reason = EndReason::timed_out;
  stopped.killed = true;
  EXPECT_FALSE(stopped.main_oom_killed());
  EXPECT_EQ(stopped.describe(), "killed by SIGKILL");
  // A child was OOM-killed, the main process exited by itself.
  Result child = r;
  child.status = ExitStatus{ExitStatus::Kind::exited, 1, false};
  EXPECT_FALSE(child.main_oom_killed());
  EXPECT_EQ(child.describe(), "exited with 1");
}

TEST(ResultLimits, JsonRoundTrip) {
  Result r = oom_result();
  auto j = to_json(r);
  EXPECT_EQ(j["description"], "out of memory (limit 64 MiB)");
  EXPECT_EQ(j["limits_level"], "cgroup1");
  EXPECT_EQ(j["cpu_throttled_us"], 1500);
  auto back = result_from_json(j);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->limits_level, LimitsLevel::cgroup1);
  EXPECT_EQ(back->memory_limit_bytes, r.memory_limit_bytes);
  EXPECT_TRUE(back->oom_killed);
  EXPECT_EQ(back->oom_kills, 1u);
  EXPECT_EQ(back->peak_processes, 3u);
  EXPECT_EQ(back->pids_refused, 0u);
  EXPECT_EQ(back->cpu_throttled, 1500us);
  // A record from before limits: no fields, no limits.
  j.erase("limits_level");
  j.erase("oom_killed");
  back = result_from_json(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->limits_level, LimitsLevel::none);
  EXPECT_FALSE(back->oom_killed);
}

bool pids_limit_available() {
  for (const auto& c : probe_limits())
    if (c.name == "pids") return c.level != LimitsLevel::none;
  return false;
}

// The child is in the limit's group from its first instruction: what it reads is the limit.
TEST(LimitedJob, ChildStartsUnderTheLimitAndGroupsGoAway) {
  TEND_REQUIRE(pids_limit_available(), "a pids controller (tend doctor: limits)");
  std::string marker = test::new_marker();
  JobOptions o;
  o.scope.limits.pids_max = 7;
  // v2 reads its own cgroup's pids.max; v1 finds its pids group in /proc/self/cgroup.
  Command cmd = test::marked(
      Command::shell("g=$(sed -n 's/^[0-9]*:pids:// p; s/^0::// p' /proc/self/cgroup | head -1);"
                     "for d in /sys/fs/cgroup/pids$g /sys/fs/cgroup$g /sys/fs/cgroup/unified$g; do"
                     "  [ -r $d/pids.max ] && cat $d/pids.max && break; done; echo $g"),
      marker);
  cmd.stdout_(Stdio::capture());
  auto loop = Loop::create();
  ASSERT_TRUE(loop);
  auto job = Job::start(*loop, cmd, o);
  ASSERT_TRUE(job) << job.error().message();
  ASSERT_TRUE(loop->run_until([&] { return (*job)->done(); }));
  const Result& r = (*job)->result();
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_NE(r.limits_level, LimitsLevel::none);
  std::string out = (*job)->capture()->text(Stream::out);
  EXPECT_EQ(out.substr(0, 2), "7\n") << out;
  std::string group = out.substr(out.find('\n') + 1);
  group.pop_back();
  EXPECT_NE(group.find("tend-"), std::string::npos) << out;
  // (A limit-free v2 scope of the same name may stay, emptied, in the cgroup pool.)
  for (const char* root : {"/sys/fs/cgroup/pids", "/sys/fs/cgroup"})
    EXPECT_NE(::access((root + group).c_str(), F_OK), 0) << root << group << " left behind";
  EXPECT_EQ(test::count_and_kill_marked(marker), 0u);
}

TEST(LimitedJob, RefusedLimitStartsNothing) {
  ScopeOptions o;
  o.limits.pids_max = 5;
  o.limits_level = LimitsLevel::cgroup1;
  o.cgroup_v1_root = "/nonexistent-tend-test";
  auto s = Scope::create(o);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("cannot limit pids"), std::string::npos)
      << s.error().message();
  EXPECT_NE(s.error().message().find("/nonexistent-tend-test/pids"), std::string::npos);
}

}  // namespace
}  // namespace tend

namespace tend {
namespace {

TEST(PrepareLimits, RefusesWhatItCannotHaveAndMovesNothingOnV1) {
  ScopeOptions o;
  o.limits.memory_max = 64 << 20;
  o.limits_level = LimitsLevel::cgroup1;
  o.cgroup_v1_root = "/nonexistent-tend-test";
  auto r = prepare_limits(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cannot limit memory"), std::string::npos);
  // Whatever this host has, preparing must leave this process where it was unless it is cgroup2.
  std::ifstream before("/proc/self/cgroup");
  std::string was((std::istreambuf_iterator<char>(before)), std::istreambuf_iterator<char>());
  bool v2 = false;
  for (const auto& c : probe_limits()) v2 |= c.level == LimitsLevel::cgroup2;
  if (v2) GTEST_SKIP() << "cgroup2 controllers here: preparing would move this test process";
  ASSERT_TRUE(prepare_limits({})) << "nothing to prepare on v1";
  std::ifstream after("/proc/self/cgroup");
  std::string now((std::istreambuf_iterator<char>(after)), std::istreambuf_iterator<char>());
  EXPECT_EQ(was, now);
}

TEST(DefaultTasksMax, FifteenPercentOfTheSystemsThreads) {
  auto read = [](const char* path) {
    std::ifstream f(path);
    uint64_t v = 0;
    f >> v;
    return v;
  };
  uint64_t threads = read("/proc/sys/kernel/threads-max");
  uint64_t pids = read("/proc/sys/kernel/pid_max");
  ASSERT_GT(threads, 0u);
  ASSERT_GT(pids, 0u);
  auto d = default_tasks_max();
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, std::max<uint64_t>(16, std::min(threads, pids) * 15 / 100));
}

TEST(ScopeFigures, AGoneCgroupHasNoFigures) {
  ScopeFigures f = read_scope_figures("/sys/fs/cgroup/unified/tend-no-such-cgroup-xyz");
  EXPECT_FALSE(f.memory_bytes);
  EXPECT_FALSE(f.processes);
  EXPECT_FALSE(f.cpu_user);
  f = read_scope_figures("");
  EXPECT_FALSE(f.processes);
}

TEST(ScopeFigures, ARunningLimitedJobIsSeenFromOutside) {
  TEND_REQUIRE(pids_limit_available(), "a pids controller (tend doctor: limits)");
  std::string marker = test::new_marker();
  JobOptions o;
  o.scope.limits.pids_max = 20;
  Command cmd = test::marked(Command::shell("sleep 5 & sleep 5 & wait"), marker);
  auto loop = Loop::create();
  ASSERT_TRUE(loop);
  auto job = Job::start(*loop, cmd, o);
  ASSERT_TRUE(job) << job.error().message();
  const Scope* scope = (*job)->scope();
  ASSERT_NE(scope, nullptr);
  if (scope->cgroup_path().empty()) GTEST_SKIP() << "session level: no cgroup to read";
  ScopeFigures f;
  for (int i = 0; i < 200; ++i) {
    f = read_scope_figures(scope->cgroup_path());
    if (f.processes && *f.processes >= 3) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(f.processes);
  EXPECT_EQ(*f.processes, 3u);  // sh and its two sleeps
  EXPECT_TRUE(f.cpu_user);
  (*job)->stop();
  ASSERT_TRUE(loop->run_until([&] { return (*job)->done(); }));
  EXPECT_EQ(test::count_and_kill_marked(marker), 0u);
}

}  // namespace
}  // namespace tend
