// Helpers of the unit tests on top of tests/support: a job marked so that the test can find what
// is left of it.
#pragma once

#include <dirent.h>

#include <string>

#include <gtest/gtest.h>

#include "proc_walk.hpp"
#include "require.hpp"
#include "tend/command.hpp"
#include "tend/scope.hpp"

namespace tend::test {

inline Command marked(Command c, const std::string& marker) {
  c.set_env("TEND_TEST_MARKER", marker);
  return c;
}

// Live marked processes now (one sweep); kills them and waits until they are gone, so a failing
// test does not leak into the next one.
inline size_t count_and_kill_marked(const std::string& marker) {
  const size_t n = marked_pids(marker).size();
  kill_marked(marker);
  return n;
}

inline bool cgroup_available() {
  return probe_cgroup().writable;
}

inline size_t open_fd_count() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (auto* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the directory's own fd
}

// A test run at each containment level (TEST_P over ScopeLevel): the cgroup level needs a writable
// cgroup v2 (fails under CI=true, skips loudly elsewhere); each test's processes carry marker_,
// and none may be left when it ends.
class ScopeLevelTest : public ::testing::TestWithParam<ScopeLevel> {
 protected:
  void SetUp() override {
    if (GetParam() == ScopeLevel::cgroup)
      TEND_REQUIRE(cgroup_available(), "a writable cgroup v2: " << probe_cgroup().why_not);
    marker_ = new_marker();
  }
  void TearDown() override {
    EXPECT_EQ(count_and_kill_marked(marker_), 0u) << "processes of the test's jobs were left";
  }

  std::string marker_;
};

}  // namespace tend::test
