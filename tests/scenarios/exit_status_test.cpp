// Scenario 8: the exit status says what happened, and bad input starts nothing.
#include <unistd.h>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

class ExitStatus : public ScopeTest {};
TEND_BOTH_LEVELS(ExitStatus);

int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST_P(ExitStatus, ExitCodeIsPassedOn) {
  auto r = run({"--", "sh", "-c", "exit 3"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(ExitStatus, DeathBySignalIs128PlusN) {
  // No core file: the point is the status, not the dump.
  auto r = run({"--", "sh", "-c", "ulimit -c 0; kill -SEGV $$"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 139) << r.output;
}

TEST_P(ExitStatus, NotExecutableIs126) {
  TempDir dir;
  std::string job = dir.write_file("job.sh", "#!/bin/sh\necho ran\n", 0644);
  auto r = run({"--", job});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 126) << r.output;
  EXPECT_NE(r.output.find("Permission denied"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(job), std::string::npos) << "the message should name the file";
  EXPECT_EQ(r.output.find("ran"), std::string::npos);
}

TEST_P(ExitStatus, MissingProgramIs127) {
  auto r = run({"--", "tend-no-such-program-xyz"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 127) << r.output;
  EXPECT_NE(r.output.find("tend-no-such-program-xyz: command not found"), std::string::npos)
      << r.output;
  auto p = run({"--", "/nonexistent/prog"});
  EXPECT_EQ(p.exit_code, 127) << p.output;
  EXPECT_NE(p.output.find("No such file or directory"), std::string::npos) << p.output;
}

// Each of these must be refused with exit 125 and one line, and start nothing (the command would
// create `witness`).
TEST_P(ExitStatus, BadInputIs125AndStartsNothing) {
  TempDir dir;
  std::string witness = dir.path + "/witness";
  std::string touch = "touch " + witness;
  const std::vector<std::vector<std::string>> cases = {
      {"--timeout", "abc"},
      {"--timeout", "-1"},
      {"-k", "0"},
      {"--signal", "FOO"},
      {"--signal", "0"},
      {"--orphans", "maybe"},
      {"--no-such-flag"},
      {"--cwd", "/nonexistent"},
      {"--env", "NOEQUALS"},
      {"--scope", "jail"},
      {"--user", "no-such-user-xyz"},
  };
  for (const auto& bad : cases) {
    std::vector<std::string> args{"run", "--scope", GetParam()};
    args.insert(args.end(), bad.begin(), bad.end());
    args.insert(args.end(), {"--", "sh", "-c", touch});
    auto r = run_tend(args, marker_);
    std::string what = bad.front() + (bad.size() > 1 ? " " + bad[1] : "");
    ASSERT_TRUE(r.finished) << what;
    EXPECT_EQ(r.exit_code, 125) << what << ": " << r.output;
    EXPECT_EQ(line_count(r.output), 1) << what << ": " << r.output;
    EXPECT_EQ(r.output.rfind("tend: ", 0), 0u) << what << ": " << r.output;
    EXPECT_NE(::access(witness.c_str(), F_OK), 0) << what << ": the command ran";
  }
  auto none = run_tend({"run", "--scope", GetParam()}, marker_);
  EXPECT_EQ(none.exit_code, 125) << none.output;
  EXPECT_EQ(line_count(none.output), 1) << none.output;
  auto cwd = run_tend({"run", "--cwd", "/nonexistent", "--", "true"}, marker_);
  EXPECT_EQ(cwd.output, "tend: --cwd /nonexistent: No such file or directory\n");
  auto timeout = run_tend({"run", "--timeout", "abc", "--", "true"}, marker_);
  EXPECT_EQ(timeout.output,
            "tend: --timeout 'abc': not a duration (examples: 1.5, 500ms, 30s, 5m, 2h)\n");
}

TEST_P(ExitStatus, PreserveStatusGivesTheJobsOwn) {
  auto r = run({"--preserve-status", "-t", "0.5", "--", "sh", "-c", "sleep 300"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 143) << r.output;  // killed by the SIGTERM the timeout sent
  EXPECT_LT(r.elapsed_s, 2.0);
}

TEST_P(ExitStatus, CustomStopSignal) {
  // A background job of sh ignores SIGINT: the loop's sleep is in the foreground.
  auto r = run({"-s", "INT", "-t", "0.5", "--preserve-status", "--", "sh", "-c",
                "trap 'exit 7' INT; while :; do sleep 0.1; done"});
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 7) << r.output;
  EXPECT_LT(r.elapsed_s, 2.0);
  EXPECT_EQ(count_marked(marker_), 0);
}

}  // namespace
}  // namespace scenario
