// Scenario 11: `--json -` reports what happened, including the processes that had to be stopped.
#include <nlohmann/json.hpp>

#include "scope_fixture.hpp"

namespace scenario {
namespace {

class JsonResult : public ScopeTest {
 protected:
  // The job writes nothing, so the output is tend's JSON line alone.
  nlohmann::json run_json(std::initializer_list<std::string> rest) {
    std::vector<std::string> args = run_args({"--json", "-"});
    args.insert(args.end(), rest.begin(), rest.end());
    last_ = run_tend(args, marker_);
    EXPECT_TRUE(last_.finished);
    size_t start = last_.output.rfind("\n{");
    start = start == std::string::npos ? last_.output.find('{') : start + 1;
    if (start == std::string::npos) {
      ADD_FAILURE() << "no JSON in: " << last_.output;
      return {};
    }
    return nlohmann::json::parse(last_.output.substr(start), nullptr, false);
  }
  RunResult last_;
};
TEND_BOTH_LEVELS(JsonResult);

TEST_P(JsonResult, SetsidChildIsCountedAsKilled) {
  auto j = run_json({"-t", "1", "-k", "1", "--", "sh", "-c", "setsid sleep 300 & exec sleep 300"});
  ASSERT_TRUE(j.is_object()) << last_.output;
  EXPECT_EQ(last_.exit_code, 124);
  EXPECT_EQ(j["reason"], "timed_out");
  EXPECT_EQ(j["exit_code"], 124);
  EXPECT_EQ(j["killed"], false);
  EXPECT_EQ(j["stop_signal"], SIGTERM);
  EXPECT_EQ(j["status"]["kind"], "signaled");
  EXPECT_EQ(j["status"]["signal_name"], "SIGTERM");
  EXPECT_EQ(j["leftovers_killed"], 1);
  EXPECT_EQ(j["scope_level"], GetParam());
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_GE(j["elapsed_us"].get<int64_t>(), 900'000);
  EXPECT_LT(j["elapsed_us"].get<int64_t>(), 2'500'000);
  EXPECT_GT(j["pid"].get<int>(), 0);
  EXPECT_TRUE(j["started_at"].is_string());
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(JsonResult, DoubleForkedDaemonIsCountedAsKilled) {
  auto j = run_json({"-t", "1", "-k", "1", "--", "sh", "-c",
                     "(setsid sleep 300 </dev/null >/dev/null 2>&1 &); exec sleep 300"});
  ASSERT_TRUE(j.is_object()) << last_.output;
  EXPECT_EQ(j["reason"], "timed_out");
  EXPECT_EQ(j["exit_code"], 124);
  EXPECT_EQ(j["leftovers_killed"], 1);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(JsonResult, OrphanOfAnExitedMainIsCountedAsKilled) {
  auto j = run_json({"--", "sh", "-c", "setsid sleep 300 & exit 0"});
  ASSERT_TRUE(j.is_object()) << last_.output;
  EXPECT_EQ(j["reason"], "exited");
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["status"]["kind"], "exited");
  EXPECT_EQ(j["status"]["value"], 0);
  EXPECT_EQ(j["leftovers_killed"], 1);
  EXPECT_EQ(j["leftovers_left"], 0);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_P(JsonResult, GraceRunOutIsKilled) {
  auto j = run_json({"-t", "0.5", "-k", "0.5", "--", "sh", "-c", "trap '' TERM; sleep 300 & wait"});
  ASSERT_TRUE(j.is_object()) << last_.output;
  EXPECT_EQ(j["reason"], "timed_out");
  EXPECT_EQ(j["exit_code"], 137);
  EXPECT_EQ(j["killed"], true);
  EXPECT_EQ(j["status"]["signal_name"], "SIGKILL");
}

TEST_P(JsonResult, SpawnFailureHasTheError) {
  auto j = run_json({"--", "tend-no-such-program-xyz"});
  ASSERT_TRUE(j.is_object()) << last_.output;
  EXPECT_EQ(last_.exit_code, 127);
  EXPECT_EQ(j["reason"], "spawn_failed");
  EXPECT_EQ(j["exit_code"], 127);
  EXPECT_TRUE(j["status"].is_null());
  EXPECT_EQ(j["error"]["stage"], "execve");
  EXPECT_EQ(j["error"]["errno"], ENOENT);
}

}  // namespace
}  // namespace scenario
