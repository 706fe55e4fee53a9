// The one rule for a test whose requirement is missing (root, cgroup v2, unshare, a tool): under
// CI=true it FAILS, because CI is where everything must be there and a skip would hide a test
// that never ran; elsewhere it skips loudly, saying what is missing.
//
//   TEND_REQUIRE(::geteuid() == 0, "root, to switch users");
//
// Like GTEST_SKIP it returns from the function it is in (a test body or SetUp).
#pragma once

#include <gtest/gtest.h>

namespace tend::test {

// CI=true in the environment (what CI systems set, and what scripts/test.sh runs under in CI).
bool in_ci();
// `unshare -fp --mount-proc true` works here (root or user namespaces); probed once.
bool unshare_works();
// `command` (run by sh, output discarded) exits 0.
bool command_succeeds(const std::string& command);

}  // namespace tend::test

#define TEND_REQUIRE(condition, what)                                                  \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      if (::tend::test::in_ci())                                                       \
        GTEST_FAIL() << "REQUIREMENT MISSING under CI=true (must not skip): " << what; \
      else                                                                             \
        GTEST_SKIP() << "SKIPPED LOUDLY, requirement missing: " << what;               \
    }                                                                                  \
  } while (0)
