// LimitPolicy: the agent's defaults and ceilings, and what the host can enforce, applied to a
// request's limits without any cgroup (the support is given, not probed).
#include <gtest/gtest.h>

#include "server/limit_policy.hpp"

using tend::ControllerSupport;
using tend::Limits;
using tend::LimitsLevel;
using tend::agent::LimitPolicy;

namespace {

LimitPolicy policy(LimitsLevel memory, LimitsLevel pids, LimitsLevel cpu) {
  LimitPolicy p;
  p.support = {{"memory", memory, "/m", memory == LimitsLevel::none ? "no memory here" : ""},
               {"pids", pids, "/p", pids == LimitsLevel::none ? "no pids here" : ""},
               {"cpu", cpu, "/c", cpu == LimitsLevel::none ? "no cpu here" : ""}};
  return p;
}

}  // namespace

TEST(LimitPolicy, DefaultsFillWhatTheRequestLeavesAndLowerRequestsStay) {
  LimitPolicy p = policy(LimitsLevel::cgroup1, LimitsLevel::cgroup1, LimitsLevel::cgroup1);
  p.jobs.memory_max = 256 << 20;
  p.jobs.pids_max = 100;
  Limits asked;
  asked.pids_max = 10;
  ASSERT_TRUE(p.apply(asked));
  EXPECT_EQ(asked.memory_max, 256u << 20);
  EXPECT_EQ(asked.pids_max, 10u);
  EXPECT_FALSE(asked.cpus);  // no --job-cpu: none
}

TEST(LimitPolicy, AboveTheCeilingIsRefusedAndChangesNothing) {
  LimitPolicy p = policy(LimitsLevel::cgroup2, LimitsLevel::cgroup2, LimitsLevel::cgroup2);
  p.jobs.cpus = 1;
  p.jobs.memory_max = 64 << 20;
  Limits asked;
  asked.cpus = 2;
  auto r = p.apply(asked);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, "limits.cpu");
  EXPECT_NE(r.error().detail.find("--job-cpu"), std::string::npos) << r.error().detail;
  EXPECT_FALSE(asked.memory_max) << "a refused request must not be changed";
  // A high above the default hard limit is refused too (it would be above the limit in force).
  Limits high;
  high.memory_high = 128 << 20;
  r = p.apply(high);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, "limits.memory_high");
}

TEST(LimitPolicy, AControllerTheHostLacksIsRefusedByField) {
  LimitPolicy p = policy(LimitsLevel::cgroup1, LimitsLevel::none, LimitsLevel::none);
  Limits pids;
  pids.pids_max = 5;
  auto r = p.apply(pids);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, "limits.pids");
  EXPECT_NE(r.error().detail.find("no pids here"), std::string::npos) << r.error().detail;
  Limits swap;  // cgroup v1 bounds memory+swap together: swap alone is meaningless there
  swap.swap_max = 1 << 30;
  r = p.apply(swap);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().stage, "limits.swap");
  Limits none;
  EXPECT_TRUE(p.apply(none));
}

TEST(LimitPolicy, FlagsAreCheckedWithoutTheHost) {
  using tend::agent::parse_limit_flags;
  auto ok = parse_limit_flags({"1G", "200", "1.5"});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->jobs.memory_max, 1u << 30);
  EXPECT_EQ(ok->jobs.pids_max, 200u);
  EXPECT_EQ(ok->jobs.cpus, 1.5);
  EXPECT_FALSE(ok->default_pids);
  auto defaults = parse_limit_flags({});
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->default_pids);
  auto unlimited = parse_limit_flags({"", "unlimited", ""});
  ASSERT_TRUE(unlimited);
  EXPECT_FALSE(unlimited->default_pids);
  EXPECT_FALSE(unlimited->jobs.pids_max);
  for (auto [flags, name] : std::vector<std::pair<tend::agent::LimitFlags, std::string>>{
           {{"lots", "", ""}, "--job-memory"},
           {{"100", "", ""}, "--job-memory"},  // 100 bytes: below 1 MiB
           {{"", "0", ""}, "--job-pids"},
           {{"", "-1", ""}, "--job-pids"},
           {{"", "", "0"}, "--job-cpu"},
           {{"", "", "1e9"}, "--job-cpu"}}) {
    auto r = parse_limit_flags(flags);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().stage, name);
  }
}
