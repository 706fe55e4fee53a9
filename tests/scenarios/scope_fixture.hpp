// The fixture every scenario uses: runs at both containment levels, gives each test a unique
// marker, and kills whatever is left with that marker when the test ends.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "harness.hpp"

namespace scenario {

class ScopeTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "cgroup")
      TEND_REQUIRE(cgroup_level_available(),
                   "a writable cgroup v2 (`tend doctor` says session only); run as root on a "
                   "host with cgroup v2 to test the cgroup level");
    marker_ = unique_marker();
  }
  void TearDown() override {
    if (!marker_.empty()) kill_marked(marker_);
  }

  // "run --scope LEVEL" followed by `rest`.
  std::vector<std::string> run_args(std::initializer_list<std::string> rest) const {
    std::vector<std::string> a{"run", "--scope", GetParam()};
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
  }

  RunResult run(std::initializer_list<std::string> rest, TendProcess::Options opts = {}) {
    return run_tend(run_args(rest), marker_, std::move(opts));
  }

  std::string marker_;
};

inline std::string level_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace scenario

#define TEND_BOTH_LEVELS(Suite)                                                   \
  INSTANTIATE_TEST_SUITE_P(Levels, Suite, ::testing::Values("cgroup", "session"), \
                           ::scenario::level_name)
