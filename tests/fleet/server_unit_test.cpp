// The server's pure parts: a job's overall state from its runs, and job ids.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "server/fleet_read.hpp"
#include "server/submit.hpp"

namespace tend::server {
namespace {

std::vector<RunView> runs(std::initializer_list<const char*> states) {
  std::vector<RunView> out;
  for (const char* s : states) {
    RunView r;
    r.state = s;
    out.push_back(r);
  }
  return out;
}

TEST(OverallState, RunningUntilEveryRunHasEnded) {
  EXPECT_EQ(overall_state(runs({"assigned", "assigned"})), "queued");
  EXPECT_EQ(overall_state(runs({"queued", "assigned"})), "queued");
  EXPECT_EQ(overall_state(runs({"running", "assigned"})), "running");
  EXPECT_EQ(overall_state(runs({"succeeded", "assigned"})), "running");
  EXPECT_EQ(overall_state(runs({"succeeded", "running"})), "running");
  EXPECT_EQ(overall_state(runs({"succeeded", "succeeded"})), "succeeded");
  EXPECT_EQ(overall_state(runs({"succeeded", "failed"})), "failed");
  EXPECT_EQ(overall_state(runs({"timed_out", "failed"})), "failed");
  EXPECT_EQ(overall_state(runs({"cancelled", "succeeded"})), "cancelled");
}

// A machine gone longer than --lost-after: the job says so (cancelled still says more).
TEST(OverallState, LostWhenARunWasLost) {
  EXPECT_EQ(overall_state(runs({"succeeded", "lost"})), "lost");
  EXPECT_EQ(overall_state(runs({"timed_out", "lost"})), "lost");
  EXPECT_EQ(overall_state(runs({"lost", "running"})), "running");
  EXPECT_EQ(overall_state(runs({"lost", "cancelled"})), "cancelled");
}

TEST(JobId, SixteenHexDigitsSortedByCreation) {
  std::set<std::string> seen;
  std::string last;
  for (int i = 0; i < 20000; ++i) {  // thousands within one millisecond: never the same id
    std::string id = new_job_id();
    ASSERT_EQ(id.size(), 16u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
    if (i % 5000 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (!last.empty()) {
        EXPECT_LT(last.substr(0, 11), id.substr(0, 11));
      }
      last = id;
    }
  }
}

}  // namespace
}  // namespace tend::server
