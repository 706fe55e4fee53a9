// When a job's output arrived: the records the shim keeps (output.times) and the API over them.
#include <filesystem>

#include "agent_harness.hpp"
#include "shim/output_times.hpp"

using namespace agent_test;
using tend::agent::parse_time_records;
using tend::agent::TimedOutput;
using tend::agent::TimeRecord;

namespace {

class OutputTimes : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(agent.start()) << agent.last_error(); }
  Agent agent{{"--max-running", "4", "--output-limit", "1MiB"}};

  json times(const std::string& id, const std::string& query = "") {
    auto r = agent.client().Get("/v1/jobs/" + id + "/output/times" + query);
    EXPECT_TRUE(r);
    if (!r) return json{};
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false);
  }
};

// The time of the byte at `offset`: that of the last record at or before it.
int64_t time_at(const json& answer, uint64_t offset) {
  int64_t t = -1;
  for (const auto& p : answer["times"])
    if (p[0].get<uint64_t>() <= offset) t = p[1].get<int64_t>();
  return t;
}

std::vector<TimeRecord> records_in(const std::string& path) {
  return parse_time_records(read_text(path));
}

}  // namespace

TEST_F(OutputTimes, LinesASecondApartGetTimesASecondApart) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string id = agent.submit_ok({{"command", {"sh", "-c", "echo a; sleep 1; echo b"}}});
  EXPECT_EQ(agent.wait_final(id)["state"], "succeeded");
  ASSERT_EQ(agent.output(id), "a\nb\n");
  json all = times(id);
  int64_t a = time_at(all, 0), b = time_at(all, 2);
  EXPECT_GE(a, before - 1000) << all;
  EXPECT_GE(b - a, 800) << all;
  EXPECT_LT(b - a, 30000) << all;
  EXPECT_TRUE(all["next_offset"].is_null()) << all;

  // From an offset: the record covering it comes first; `limit` pages, next_offset resumes.
  json from_b = times(id, "?offset=3");
  ASSERT_FALSE(from_b["times"].empty()) << from_b;
  EXPECT_EQ(from_b["times"][0], json({2, b})) << from_b;
  json one = times(id, "?limit=1");
  ASSERT_EQ(one["times"].size(), 1u) << one;
  EXPECT_EQ(one["next_offset"], 2) << one;
}

TEST_F(OutputTimes, ABigFastJobKeepsFewRecordsAllPointingIntoTheOutput) {
  // 20 MB through a 1 MiB limit: head, dropped middle, tail.
  auto start = Clock::now();
  std::string id = agent.submit_ok(
      {{"command",
        {"sh", "-c",
         // The pause makes the last batch (600 kB, more than the tail) a record of its own.
         "i=0; while [ $i -lt 40 ]; do seq 100000; i=$((i+1)); done; sleep 0.3; seq 100000"}}});
  EXPECT_EQ(agent.wait_final(id, 120s)["state"], "succeeded");
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  std::string dir = agent.data() + "/jobs/" + id;
  ASSERT_TRUE(std::filesystem::exists(dir)) << dir;
  std::string output = read_text(dir + "/output");
  auto size = std::filesystem::file_size(dir + "/output.times");
  auto records = records_in(dir + "/output.times");
  EXPECT_EQ(size % sizeof(TimeRecord), 0u);
  // One record per 100 ms at most (plus the tail's first, moved up), and never over the bound.
  EXPECT_LE(records.size(), static_cast<size_t>(elapsed.count() / 100 + 3)) << elapsed.count();
  EXPECT_LE(size, 2 * 8192 * sizeof(TimeRecord));
  ASSERT_GE(records.size(), 1u);
  EXPECT_EQ(records[0].offset, 0u);
  size_t marker = output.find("[tend: ");
  ASSERT_NE(marker, std::string::npos) << "the middle should have been dropped";
  size_t tail_start = output.find('\n', marker) + 1;
  bool at_tail_start = false;
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_LT(records[i].offset, output.size());
    if (i > 0) {
      EXPECT_GT(records[i].offset, records[i - 1].offset);
    }
    EXPECT_FALSE(records[i].offset > marker && records[i].offset < tail_start)
        << "a record inside the marker line";
    at_tail_start |= records[i].offset == tail_start;
  }
  EXPECT_TRUE(at_tail_start) << "the first kept tail byte has no time of its own";
}

TEST_F(OutputTimes, BadParametersAre400UnknownJobsAre404) {
  std::string id = agent.submit_ok({{"command", {"echo", "x"}}});
  agent.wait_final(id);
  for (const char* q : {"?offset=-1", "?offset=x", "?limit=0", "?limit=10001", "?limit="}) {
    auto r = agent.client().Get("/v1/jobs/" + id + "/output/times" + q);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << q << " " << r->body;
  }
  auto r = agent.client().Get("/v1/jobs/nope/output/times");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  auto none = agent.client(false).Get("/v1/jobs/" + id + "/output/times");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
}

// The bound itself, with no waiting: every chunk recorded, 16 records per part.
TEST(TimedOutputBound, ThinsEachPartAndMapsTheTailBehindTheMarker) {
  std::string dir = make_temp_dir();
  auto out = tend::FileOutput::open(dir + "/output", tend::OutputLimits{1000, 1000});
  ASSERT_TRUE(out);
  TimedOutput timed(**out, dir + "/output.times", tend::OutputLimits{1000, 1000},
                    TimedOutput::Bounds{std::chrono::milliseconds(0), 16});
  char line[16];
  for (int i = 0; i < 1000; ++i) {  // 10 bytes a chunk: 10 kB, head 100 chunks, tail 100
    std::snprintf(line, sizeof line, "%09d\n", i);
    timed.write(tend::Stream::out, line);
  }
  timed.finish();
  ASSERT_FALSE(timed.error()) << timed.error()->message();
  std::string output = read_text(dir + "/output");
  auto records = records_in(dir + "/output.times");
  EXPECT_LE(records.size(), 32u);
  ASSERT_GE(records.size(), 4u);
  EXPECT_EQ(records[0].offset, 0u);
  size_t tail_start = output.find('\n', output.find("[tend: ")) + 1;
  bool at_tail_start = false;
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_LT(records[i].offset, output.size());
    if (i > 0) {
      EXPECT_GT(records[i].offset, records[i - 1].offset);
    }
    // Every record is where a chunk began: a line start, outside the marker line.
    EXPECT_TRUE(records[i].offset == 0 || output[records[i].offset - 1] == '\n') << i;
    EXPECT_FALSE(records[i].offset > 1000 && records[i].offset < tail_start) << i;
    at_tail_start |= records[i].offset == tail_start;
  }
  EXPECT_TRUE(at_tail_start) << "the first kept tail byte has no record";
  std::filesystem::remove_all(dir);
}
