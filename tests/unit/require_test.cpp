// tests/support's one rule for a missing requirement: under CI=true it is a failure, not a skip.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "require.hpp"

namespace {

// Sets CI=true for one test and puts back what was there.
class CiTrue {
 public:
  CiTrue() {
    if (const char* v = std::getenv("CI")) saved_ = v;
    ::setenv("CI", "true", 1);
  }
  ~CiTrue() {
    if (saved_)
      ::setenv("CI", saved_->c_str(), 1);
    else
      ::unsetenv("CI");
  }

 private:
  std::optional<std::string> saved_;
};

void require_something_missing() {
  TEND_REQUIRE(false, "a thing this machine lacks");
}

TEST(TendRequire, FailsUnderCi) {
  CiTrue ci;
  EXPECT_TRUE(tend::test::in_ci());
  EXPECT_FATAL_FAILURE(require_something_missing(), "REQUIREMENT MISSING under CI=true");
}

TEST(TendRequire, PresentRequirementNeitherFailsNorSkips) {
  CiTrue ci;
  TEND_REQUIRE(true, "nothing");
  SUCCEED();
}

}  // namespace
