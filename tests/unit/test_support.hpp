// Helpers of the unit tests on top of tests/support: a job marked so that the test can find what
// is left of it.
#pragma once

#include <dirent.h>

#include <string>

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

}  // namespace tend::test
