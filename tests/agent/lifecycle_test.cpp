// A job's life: cancel, timeout, whole-tree cleanup, output (order, offset, follow, SSE, limit),
// the queue.
#include "agent_harness.hpp"

using namespace agent_test;

namespace {

class AgentJobs : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(agent.start()) << agent.last_error(); }
  Agent agent{{"--max-running", "8", "--output-limit", "64KiB"}};
};

json marked(std::vector<std::string> argv, const std::string& marker) {
  return {{"command", std::move(argv)}, {"env", {{"TEND_TEST_MARKER", marker}}}};
}

}  // namespace

TEST_F(AgentJobs, CancelStopsTheWholeTree) {
  std::string m = unique_marker();
  std::string id =
      agent.submit_ok(marked({"sh", "-c", "sleep 300 & setsid sleep 300 & sleep 300"}, m));
  auto deadline = Clock::now() + 10s;
  while (count_marked(m) < 4 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  ASSERT_GE(count_marked(m), 4) << "sh and its three sleeps did not start";

  auto t0 = Clock::now();
  auto r = agent.client().Post("/v1/jobs/" + id + "/cancel", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  json j = agent.wait_final(id, 15s);
  EXPECT_EQ(j["state"], "cancelled");
  EXPECT_EQ(j["exit_status"], 128 + SIGTERM);
  EXPECT_LT(Clock::now() - t0, 5s) << "cancel waited for something";
  EXPECT_EQ(wait_marked_gone(m), 0);

  auto again = agent.client().Post("/v1/jobs/" + id + "/cancel", "", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
}

TEST_F(AgentJobs, TimeoutKillsEscapingGrandchildren) {
  std::string m = unique_marker();
  json body = marked({"sh", "-c", "setsid sleep 300 & (sleep 300 &) ; echo started; sleep 300"}, m);
  body["timeout"] = "1s";
  body["kill_after"] = "2s";
  auto t0 = Clock::now();
  std::string id = agent.submit_ok(body);
  json j = agent.wait_final(id, 20s);
  EXPECT_EQ(j["state"], "timed_out");
  EXPECT_EQ(j["exit_status"], 124);
  EXPECT_GE(j["leftovers_killed"].get<int>(), 2) << j;
  EXPECT_LT(Clock::now() - t0, 8s);
  EXPECT_EQ(agent.output(id), "started\n");
  EXPECT_EQ(wait_marked_gone(m), 0);
}

TEST_F(AgentJobs, OrphansLeftByAFinishedJobAreKilled) {
  std::string m = unique_marker();
  std::string id = agent.submit_ok(marked({"sh", "-c", "setsid sleep 300 & exit 0"}, m));
  json j = agent.wait_final(id, 20s);
  EXPECT_EQ(j["state"], "succeeded");
  EXPECT_EQ(j["leftovers_killed"], 1);
  EXPECT_EQ(wait_marked_gone(m), 0);
}

TEST_F(AgentJobs, OutputKeepsTheOrderOfStdoutAndStderr) {
  std::string id = agent.submit_ok(
      {{"command", {"sh", "-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"}}});
  agent.wait_final(id);
  std::string want;
  for (int i = 1; i <= 5; ++i)
    want += "out" + std::to_string(i) + "\nerr" + std::to_string(i) + "\n";
  EXPECT_EQ(agent.output(id), want);
  EXPECT_EQ(agent.output(id, "?offset=5"), want.substr(5));
  EXPECT_EQ(agent.output(id, "?offset=100000"), "");
  auto bad = agent.client().Get("/v1/jobs/" + id + "/output?offset=-1");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(AgentJobs, FollowStreamsUntilTheJobEnds) {
  std::string id = agent.submit_ok(
      {{"command", {"sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.4; done"}}});
  std::vector<std::pair<Clock::time_point, std::string>> pieces;
  auto t0 = Clock::now();
  std::string all;
  auto r = agent.client().Get("/v1/jobs/" + id + "/output?follow=1", [&](const char* d, size_t n) {
    pieces.emplace_back(Clock::now(), std::string(d, n));
    all.append(d, n);
    return true;
  });
  const auto ended = Clock::now();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(all, "line1\nline2\nline3\n");
  ASSERT_GE(pieces.size(), 2u) << "follow delivered everything at once";
  // Measured from the stream's end, not from the submission: the job's start (a shim, its
  // cgroup, an ASan build on a loaded machine) may take a second by itself. Live, the first line
  // comes >= 0.8 s (two sleeps) before the end; held back, with it.
  EXPECT_GE(ended - pieces.front().first, 400ms)
      << "the first line came only at the end (" << (pieces.front().first - t0) / 1ms
      << " ms after the submission, " << (ended - t0) / 1ms << " ms to the end)";
  EXPECT_EQ(agent.job(id).value()["state"], "succeeded");

  // Resuming from an offset after the end gives nothing more and ends at once.
  std::string rest;
  agent.client().Get("/v1/jobs/" + id + "/output?follow=1&offset=6", [&](const char* d, size_t n) {
    rest.append(d, n);
    return true;
  });
  EXPECT_EQ(rest, "line2\nline3\n");
}

TEST_F(AgentJobs, FollowIsLiveForClientsThatAcceptCompression) {
  // Browsers and `curl --compressed` send Accept-Encoding: a compressed stream would be held
  // back by the compressor until the job ends.
  std::string id =
      agent.submit_ok({{"command", {"sh", "-c", "echo first; sleep 1.5; echo second"}}});
  httplib::Headers h{{"Accept-Encoding", "gzip, deflate, br"}};
  auto t0 = Clock::now();
  std::optional<Clock::duration> first_at;
  std::string all;
  auto r =
      agent.client().Get("/v1/jobs/" + id + "/output?follow=1", h, [&](const char* d, size_t n) {
        if (!first_at) first_at = Clock::now() - t0;
        all.append(d, n);
        return true;
      });
  const auto ended = Clock::now() - t0;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(all, "first\nsecond\n");
  ASSERT_TRUE(first_at.has_value());
  // From the stream's end (the job's start alone may take a second on a loaded machine): live,
  // the first line comes >= 1.5 s (the sleep) before it; buffered, with it.
  EXPECT_GE(ended - *first_at, 750ms)
      << "the first line came only at the end: the stream was buffered (first after "
      << *first_at / 1ms << " ms, end after " << ended / 1ms << " ms)";
}

TEST_F(AgentJobs, ServerSentEventsCarryOutputStateAndEnd) {
  std::string id =
      agent.submit_ok({{"command", {"sh", "-c", "echo a; sleep 0.3; printf 'b\\nc'"}}});
  httplib::Headers h{{"Accept", "text/event-stream"}};
  std::string stream;
  auto r = agent.client().Get("/v1/jobs/" + id + "/output", h, [&](const char* d, size_t n) {
    stream.append(d, n);
    return true;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  // Reassemble the output from the events the way EventSource would.
  std::string text, last_id;
  size_t pos = 0;
  std::vector<std::string> kinds;
  while (true) {
    size_t end = stream.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string ev = stream.substr(pos, end - pos);
    pos = end + 2;
    std::string kind, data;
    bool first = true;
    std::stringstream lines(ev);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("event: ", 0) == 0) kind = line.substr(7);
      if (line.rfind("id: ", 0) == 0 && kind == "output") last_id = line.substr(4);
      if (line.rfind("data: ", 0) == 0) {
        data += (first ? "" : "\n") + line.substr(6);
        first = false;
      }
    }
    kinds.push_back(kind);
    if (kind == "output") text += data;
    if (kind == "state") {
      EXPECT_TRUE(json::parse(data, nullptr, false).contains("state")) << data;
    }
  }
  EXPECT_EQ(text, "a\nb\nc");
  ASSERT_FALSE(kinds.empty());
  EXPECT_EQ(kinds.front(), "state");
  EXPECT_EQ(kinds.back(), "end");
  EXPECT_NE(stream.find("\"state\":\"succeeded\""), std::string::npos) << "no final state event";
  // An output event's id is the offset after it: resuming from the last one sends no output again.
  EXPECT_EQ(last_id, "5");
  httplib::Headers resume{{"Accept", "text/event-stream"}, {"Last-Event-ID", last_id}};
  std::string rest;
  agent.client().Get("/v1/jobs/" + id + "/output", resume, [&](const char* d, size_t n) {
    rest.append(d, n);
    return true;
  });
  EXPECT_EQ(rest.find("event: output"), std::string::npos) << rest;
  EXPECT_NE(rest.find("event: end"), std::string::npos) << rest;
}

TEST_F(AgentJobs, OutputLimitKeepsHeadAndTail) {
  // 64 KiB limit (see the fixture): 32 KiB head + 32 KiB tail of ~1 MiB of numbered lines.
  std::string id = agent.submit_ok({{"command", {"sh", "-c", "seq 1 150000; echo THE-END"}}});
  json j = agent.wait_final(id);
  EXPECT_EQ(j["state"], "succeeded");
  std::string out = agent.output(id);
  int64_t total = j["output_bytes"].get<int64_t>();
  int64_t dropped = j["output_dropped_bytes"].get<int64_t>();
  EXPECT_GT(total, 900'000);
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(out.rfind("1\n2\n3\n", 0), 0u) << "head lost";
  EXPECT_NE(out.find("150000\nTHE-END\n"), std::string::npos) << "tail lost";
  EXPECT_NE(out.find("bytes dropped"), std::string::npos);
  EXPECT_LT(out.size(), 64u * 1024 + 200);
}

TEST(AgentQueue, QueueBoundAndCancelOfAQueuedJob) {
  Agent agent{{"--max-running", "1", "--max-queued", "2"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string m = unique_marker();
  std::string running = agent.submit_ok(marked({"sleep", "300"}, m));
  auto deadline = Clock::now() + 10s;
  while (agent.job(running).value()["state"] != "running" && Clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  std::string q1 = agent.submit_ok({{"command", {"true"}}});
  std::string q2 = agent.submit_ok({{"command", {"true"}}});
  EXPECT_EQ(agent.job(q1).value()["state"], "queued");
  auto full = agent.submit({{"command", {"true"}}});
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 429) << full->body;

  auto c = agent.client().Post("/v1/jobs/" + q1 + "/cancel", "", "application/json");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 202);
  EXPECT_EQ(agent.job(q1).value()["state"], "cancelled");
  agent.client().Post("/v1/jobs/" + running + "/cancel", "", "application/json");
  EXPECT_EQ(agent.wait_final(running)["state"], "cancelled");
  EXPECT_EQ(agent.wait_final(q2)["state"], "succeeded");
  EXPECT_EQ(wait_marked_gone(m), 0);
}

TEST(AgentCli, SubmitWaitJobsLogsCancel) {
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  auto run = [&](const std::string& args, std::string* out = nullptr) {
    return run_cli(agent, args, out);
  };
  std::string out;
  EXPECT_EQ(run("submit --wait -- sh -c 'echo hi; exit 5'", &out), 5);
  std::string id = out.substr(0, out.find('\n'));
  EXPECT_EQ(run("logs " + id, &out), 0);
  EXPECT_EQ(out, "hi\n");
  EXPECT_EQ(run("submit --wait --timeout 200ms -- sleep 10"), 124);
  EXPECT_EQ(run("submit --wait -- sh -c 'kill -9 $$'"), 137);
  EXPECT_EQ(run("submit --timeout nonsense -- true 2>/dev/null"), 125);
  EXPECT_EQ(run("jobs", &out), 0);
  EXPECT_NE(out.find(id), std::string::npos);
  EXPECT_EQ(run("submit -- sleep 60", &out), 0);
  std::string sleeper = out.substr(0, out.find('\n'));
  EXPECT_EQ(run("cancel " + sleeper, &out), 0);
  EXPECT_EQ(agent.wait_final(sleeper)["state"], "cancelled");
  EXPECT_EQ(run("cancel " + sleeper + " 2>/dev/null"), 1);
  EXPECT_EQ(run("logs nope 2>/dev/null"), 1);
}

TEST(AgentLoad, StaysResponsiveWhileJobsSaturateTheCpu) {
  Agent agent{{"--max-running", "8"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string m = unique_marker();
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i)
    ids.push_back(agent.submit_ok(marked({"sh", "-c", "while :; do :; done"}, m)));
  auto deadline = Clock::now() + 10s;
  while (count_marked(m) < 8 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(500ms);
  Clock::duration worst{};
  for (int i = 0; i < 10; ++i) {
    auto t0 = Clock::now();
    auto r = agent.client().Get("/v1/jobs?limit=10");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    worst = std::max(worst, Clock::now() - t0);
  }
  EXPECT_LT(worst, 1s) << "the API stalled behind CPU-bound jobs";
  for (const auto& id : ids)
    agent.client().Post("/v1/jobs/" + id + "/cancel", "", "application/json");
  for (const auto& id : ids) EXPECT_EQ(agent.wait_final(id)["state"], "cancelled");
  EXPECT_EQ(wait_marked_gone(m), 0);
}
