// The HTTP contract: fields, errors, authentication, listing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_harness.hpp"

using namespace agent_test;

namespace {

class AgentApi : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(agent.start()) << agent.last_error(); }
  Agent agent{{"--max-running", "8"}};
};

}  // namespace

TEST_F(AgentApi, HealthzIsOpenEverythingElseNeedsTheToken) {
  auto open = agent.client(false).Get("/healthz");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200);
  EXPECT_EQ(json::parse(open->body), json({{"ok", true}, {"status", "ok"}}));

  for (const char* path : {"/v1/jobs", "/metrics", "/v1/jobs/x", "/v1/jobs/x/output"}) {
    auto none = agent.client(false).Get(path);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << path;
    auto c = agent.client(false);
    c.set_bearer_token_auth(agent.token() + "0");
    auto wrong = c.Get(path);
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << path;
    EXPECT_TRUE(json::parse(wrong->body)["error"]["message"].is_string());
  }
  auto post = agent.client(false).Post("/v1/jobs", R"({"command":["true"]})", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 401);
  EXPECT_EQ(agent.job_count(), 0) << "an unauthenticated request started a job";

  struct stat st {};
  ASSERT_EQ(::stat((agent.data() + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(agent.token().size(), 64u);
}

TEST_F(AgentApi, JobCarriesEveryField) {
  auto r = agent.submit({{"command", {"sh", "-c", "echo out; echo err >&2; exit 3"}},
                         {"env", {{"GREETING", "hi"}}},
                         {"cwd", "/tmp"},
                         {"timeout", "30s"},
                         {"kill_after", "2s"},
                         {"labels", {{"team", "infra"}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  json created = json::parse(r->body);
  std::string id = created["id"];
  EXPECT_TRUE(created["state"] == "queued" || created["state"] == "running") << created;
  EXPECT_EQ(r->get_header_value("Location"), "/v1/jobs/" + id);

  json j = agent.wait_final(id);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_TRUE(j["signal"].is_null());
  EXPECT_TRUE(j["error"].is_null());
  for (const char* t : {"created_at", "started_at", "finished_at"}) {
    ASSERT_TRUE(j[t].is_string()) << t;
    EXPECT_EQ(j[t].get<std::string>().size(), 24u) << j[t];  // 2026-01-02T03:04:05.678Z
    EXPECT_EQ(j[t].get<std::string>().back(), 'Z');
  }
  EXPECT_LE(j["created_at"].get<std::string>(), j["started_at"].get<std::string>());
  EXPECT_LE(j["started_at"].get<std::string>(), j["finished_at"].get<std::string>());
  ASSERT_TRUE(j["duration_ms"].is_number_integer());
  EXPECT_LT(j["duration_ms"].get<int>(), 10'000);
  EXPECT_TRUE(j["cpu_user_ms"].is_number_integer()) << j;
  EXPECT_TRUE(j["cpu_system_ms"].is_number_integer()) << j;
  EXPECT_TRUE(j.contains("peak_memory_bytes"));
  EXPECT_EQ(j["output_bytes"], 8);
  EXPECT_EQ(j["output_dropped_bytes"], 0);
  EXPECT_EQ(j["leftovers_killed"], 0);
  EXPECT_EQ(j["command"], json({"sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(j["env"], json({{"GREETING", "hi"}}));
  EXPECT_EQ(j["cwd"], "/tmp");
  EXPECT_EQ(j["timeout"], 30);
  EXPECT_EQ(j["kill_after"], 2);
  EXPECT_TRUE(j["user"].is_null());
  EXPECT_EQ(j["labels"], json({{"team", "infra"}}));
  EXPECT_EQ(agent.output(id), "out\nerr\n");
}

TEST_F(AgentApi, ScriptsRunWithTheirInterpreterAndStdin) {
  std::string sh = agent.submit_ok(
      {{"script", "read x; echo \"got $x\"; pwd"}, {"stdin", "hello\n"}, {"cwd", "/"}});
  std::string py =
      agent.submit_ok({{"script", "import sys; print(sys.stdin.read().upper()); sys.exit(4)"},
                       {"interpreter", "python3"},
                       {"stdin", "abc"}});
  std::string bash =
      agent.submit_ok({{"script", "echo ${BASH_VERSION:+bash}"}, {"interpreter", "bash"}});
  json j = agent.wait_final(sh);
  EXPECT_EQ(j["state"], "succeeded");
  EXPECT_EQ(j["script"], "read x; echo \"got $x\"; pwd");
  EXPECT_EQ(j["interpreter"], "sh");
  EXPECT_EQ(agent.output(sh), "got hello\n/\n");
  j = agent.wait_final(py);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["exit_code"], 4);
  EXPECT_EQ(agent.output(py), "ABC\n");
  EXPECT_EQ(agent.wait_final(bash)["state"], "succeeded");
  EXPECT_EQ(agent.output(bash), "bash\n");
}

TEST_F(AgentApi, ExecFailureIsAFailedJobWithTheError) {
  std::string id = agent.submit_ok({{"command", {"/nonexistent/program"}}});
  json j = agent.wait_final(id);
  EXPECT_EQ(j["state"], "failed");
  ASSERT_TRUE(j["error"].is_string());
  EXPECT_NE(j["error"].get<std::string>().find("/nonexistent/program"), std::string::npos)
      << j["error"];
  EXPECT_EQ(j["exit_status"], 127);
}

// The page opens a running job at the tail of its output: output_bytes must grow while it runs
// (the record's figure is written only at the end).
TEST_F(AgentApi, RunningJobsReportTheOutputWrittenSoFar) {
  std::string id =
      agent.submit_ok({{"command", {"sh", "-c", "head -c 100000 /dev/zero; exec sleep 30"}}});
  auto deadline = Clock::now() + 20s;
  json j;
  while (Clock::now() < deadline) {
    j = agent.job(id).value_or(json{});
    if (j.value("output_bytes", 0) == 100000) break;
    std::this_thread::sleep_for(30ms);
  }
  EXPECT_EQ(j["state"], "running") << j;
  EXPECT_EQ(j["output_bytes"], 100000) << j;
  auto list = agent.client().Get("/v1/jobs?state=running");
  ASSERT_TRUE(list);
  EXPECT_EQ(json::parse(list->body)["jobs"][0]["output_bytes"], 100000) << list->body;
  auto cancel = agent.client().Post("/v1/jobs/" + id + "/cancel");
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->status, 202);
  EXPECT_EQ(agent.wait_final(id)["output_bytes"], 100000);
}

TEST_F(AgentApi, NamesItsMachine) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  auto r = agent.client().Get("/v1/agent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json({{"hostname", host}}));
  auto none = agent.client(false).Get("/v1/agent");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
}

TEST_F(AgentApi, BadRequestsAreRefusedAndStartNothing) {
  struct Case {
    std::string body;
    std::string field;
  };
  std::vector<Case> cases = {
      {"{not json", "body"},
      {R"([1,2])", "body"},
      {R"({})", "command"},
      {R"({"command":["a"],"script":"b"})", "command"},
      {R"({"command":[]})", "command"},
      {R"({"script":"x","interpreter":"ruby"})", "interpreter"},
      {R"({"script":"x","interpreter":"/nonexistent/interp"})", "interpreter"},
      {R"({"command":["a"],"timeout":"tomorrow"})", "timeout"},
      {R"({"command":["a"],"timeout":-3})", "timeout"},
      {R"({"command":["a"],"kill_after":"5 parsecs"})", "kill_after"},
      {R"({"command":["a"],"cwd":"/nonexistent/dir"})", "cwd"},
      {R"({"command":["a"],"cwd":"/etc/passwd"})", "cwd"},
      {R"({"command":["a"],"user":"no-such-user-tend"})", "user"},
      {R"({"command":["a"],"env":{"BAD=NAME":"x"}})", "env"},
      {R"({"command":["a"],"labels":{"k":7}})", "labels"},
      {R"({"command":["a"],"unknown_field":1})", "unknown_field"},
  };
  for (const auto& c : cases) {
    auto r = agent.client().Post("/v1/jobs", c.body, "application/json");
    ASSERT_TRUE(r) << c.body;
    EXPECT_EQ(r->status, 400) << c.body << " -> " << r->body;
    json err = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(err.is_discarded()) << r->body;
    EXPECT_EQ(err["error"]["field"], c.field) << c.body << " -> " << r->body;
    EXPECT_FALSE(err["error"]["message"].get<std::string>().empty()) << c.body;
  }
  // Over the body limit (1 MiB by default).
  std::string big = R"({"script":")" + std::string(2 << 20, 'x') + R"("})";
  auto r = agent.client().Post("/v1/jobs", big, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(json::parse(r->body)["error"]["field"], "body");

  EXPECT_EQ(agent.job_count(), 0) << "a refused request started a job";
  auto health = agent.client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  // Still serving real work.
  EXPECT_EQ(agent.wait_final(agent.submit_ok({{"command", {"true"}}}))["state"], "succeeded");
}

TEST_F(AgentApi, UnknownJobsAre404) {
  std::vector<httplib::Result> results;
  results.push_back(agent.client().Get("/v1/jobs/nope"));
  results.push_back(agent.client().Get("/v1/jobs/nope/output"));
  results.push_back(agent.client().Post("/v1/jobs/nope/cancel", "", "application/json"));
  for (auto& r : results) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(json::parse(r->body)["error"]["field"], "id");
  }
}

TEST_F(AgentApi, PostWithoutABodyIsAnsweredAtOnce) {
  // `curl -X POST URL` sends neither Content-Length nor a body: that is an empty body (RFC 9112
  // 6.3), not a body to wait for until the read timeout. httplib's client always sends a
  // length, so this speaks HTTP over a plain socket.
  auto colon = agent.addr().rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(agent.addr().substr(colon + 1))));
  ASSERT_EQ(::inet_pton(AF_INET, agent.addr().substr(0, colon).c_str(), &sa.sin_addr), 1);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = "POST /v1/jobs/nope/cancel HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    agent.token() + "\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  auto t0 = Clock::now();
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf);
  auto took = Clock::now() - t0;
  ::close(fd);
  ASSERT_GT(n, 0) << "no answer within 5 s";
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 404", 0), 0u)
      << std::string(buf, static_cast<size_t>(n));
  EXPECT_LT(took, 2s);
}

TEST_F(AgentApi, ListsNewestFirstWithFiltersAndCursor) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(agent.submit_ok({{"command", {"sh", "-c", "exit " + std::to_string(i % 2)}},
                                   {"labels", {{"parity", i % 2 ? "odd" : "even"}}}}));
  for (const auto& id : ids) agent.wait_final(id);

  auto page1 = json::parse(agent.client().Get("/v1/jobs?limit=2")->body);
  ASSERT_EQ(page1["jobs"].size(), 2u);
  EXPECT_EQ(page1["jobs"][0]["id"], ids[4]);
  EXPECT_EQ(page1["jobs"][1]["id"], ids[3]);
  ASSERT_TRUE(page1["next_cursor"].is_string());
  auto page2 =
      json::parse(agent.client()
                      .Get("/v1/jobs?limit=2&cursor=" + page1["next_cursor"].get<std::string>())
                      ->body);
  ASSERT_EQ(page2["jobs"].size(), 2u);
  EXPECT_EQ(page2["jobs"][0]["id"], ids[2]);
  auto page3 =
      json::parse(agent.client()
                      .Get("/v1/jobs?limit=2&cursor=" + page2["next_cursor"].get<std::string>())
                      ->body);
  ASSERT_EQ(page3["jobs"].size(), 1u);
  EXPECT_TRUE(page3["next_cursor"].is_null());

  auto failed = json::parse(agent.client().Get("/v1/jobs?state=failed")->body);
  EXPECT_EQ(failed["jobs"].size(), 2u);
  auto even = json::parse(agent.client().Get("/v1/jobs?label=parity:even")->body);
  EXPECT_EQ(even["jobs"].size(), 3u);
  for (const auto& j : even["jobs"]) EXPECT_EQ(j["state"], "succeeded");

  for (const char* q : {"/v1/jobs?state=bogus", "/v1/jobs?limit=0", "/v1/jobs?limit=501",
                        "/v1/jobs?label=nocolon", "/v1/jobs?cursor=abc"}) {
    auto r = agent.client().Get(q);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << q;
  }
}

TEST_F(AgentApi, MetricsAreInPrometheusFormat) {
  agent.wait_final(agent.submit_ok({{"command", {"true"}}}));
  auto r = agent.client().Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (const char* line :
       {"tend_jobs{state=\"succeeded\"} 1", "tend_jobs_running 0", "tend_jobs_queued 0",
        "tend_spawn_seconds_count 1", "tend_leftovers_killed_total 0", "tend_orphans_reaped_total"})
    EXPECT_NE(r->body.find(line), std::string::npos) << line << "\n" << r->body;
}
