// Issue 11, item 6: a directory as the command, or found on PATH, is "Is a directory" and 126
// (the command exists but cannot be run), as GNU timeout and the shells say; not 127.
#include <sys/stat.h>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

class ExecDirectory : public ScopeTest {};
TEND_BOTH_LEVELS(ExecDirectory);

TEST_P(ExecDirectory, DotIs126IsADirectory) {
  auto r = run({"--", "."});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 126) << r.output;
  EXPECT_NE(r.output.find("Is a directory"), std::string::npos) << r.output;
}

TEST_P(ExecDirectory, DirectoryPathIs126) {
  TempDir dir;
  auto r = run({"--", dir.path});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 126) << r.output;
  EXPECT_NE(r.output.find("Is a directory"), std::string::npos) << r.output;
}

TEST_P(ExecDirectory, DirectoryFoundOnPathIs126) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir.path + "/tend-dir-cmd").c_str(), 0755), 0);
  auto r = run({"--env", "PATH=" + dir.path + ":/usr/bin:/bin", "--", "tend-dir-cmd"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 126) << r.output;
  EXPECT_NE(r.output.find("Is a directory"), std::string::npos) << r.output;
}

TEST_P(ExecDirectory, AProgramLaterOnPathWinsOverADirectory) {
  TempDir dir;
  ASSERT_EQ(::mkdir((dir.path + "/true").c_str(), 0755), 0);
  auto r = run({"--env", "PATH=" + dir.path + ":/usr/bin:/bin", "--", "true"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace scenario
