// The agent's HTTP layer against clients that break the rules: slow heads, header bombs, bad
// framing and encodings, floods of connections and followers, clients that vanish. Each test
// asserts what a user would expect: a clear status, a closed connection, an agent that keeps
// answering everyone else, and resources given back.
#include <sys/wait.h>

#include <fstream>

#include "agent_harness.hpp"
#include "raw_http.hpp"

using namespace agent_test;

namespace {

std::string get(const std::string& path, const std::string& token,
                const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token + "\r\n" +
         extra_headers + "\r\n";
}

// A number from /metrics, or -1.
long metric(const Agent& agent, const std::string& name) {
  auto r = agent.client().Get("/metrics");
  if (!r || r->status != 200) return -1;
  auto pos = r->body.find("\n" + name + " ");
  if (pos == std::string::npos) return -1;
  return std::atol(r->body.c_str() + pos + name.size() + 2);
}

// Waits (bounded) for a metric to reach `want`; returns the last value seen.
long wait_metric(const Agent& agent, const std::string& name, long want,
                 std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  long v = metric(agent, name);
  while (v != want && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    v = metric(agent, name);
  }
  return v;
}

long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// A /healthz round trip on a fresh connection, in milliseconds (-1: no answer in 5 s).
long healthz_ms(const Agent& agent) {
  auto t0 = Clock::now();
  RawConn c(agent.addr());
  if (!c.ok() || !c.send("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    return -1;
  std::string r = c.read(5s);
  if (status_of(r) != 200) return -1;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

class AgentHostile : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(agent.start()) << agent.last_error(); }
  Agent agent{{"--head-timeout", "1s", "--idle-timeout", "2s"}};
};

}  // namespace

TEST_F(AgentHostile, SlowHeadsAreClosedAndNobodyElseWaits) {
  // 64 slowloris clients: one header line every 300 ms, never finishing the head.
  std::vector<RawConn> slow;
  for (int i = 0; i < 64; ++i) {
    slow.emplace_back(agent.addr());
    ASSERT_TRUE(slow.back().ok());
    ASSERT_TRUE(slow.back().send("GET /healthz HTTP/1.1\r\nHost: t\r\n"));
  }
  auto t0 = Clock::now();
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(300ms);
    for (auto& c : slow) c.send("X-Slow: " + std::to_string(round) + "\r\n");
    long ms = healthz_ms(agent);
    EXPECT_GE(ms, 0) << "the agent stopped answering while slow clients held connections";
    EXPECT_LT(ms, 1000);
  }
  // The head deadline (1 s here) closes every one of them, whatever they keep sending.
  for (auto& c : slow) EXPECT_TRUE(c.wait_closed(5s)) << "a slow client was not closed";
  EXPECT_LT(Clock::now() - t0, 8s);
  EXPECT_GE(metric(agent, "tend_http_slow_clients_closed_total"), 64);
}

TEST_F(AgentHostile, IdleKeepAliveConnectionsAreClosed) {
  RawConn c(agent.addr());
  ASSERT_TRUE(c.send(get("/healthz", agent.token())));
  EXPECT_EQ(status_of(c.read(2s, "\r\n\r\n")), 200);
  auto t0 = Clock::now();
  EXPECT_TRUE(c.wait_closed(6s)) << "an idle keep-alive connection stayed open";
  EXPECT_GE(Clock::now() - t0, 1s);  // --idle-timeout 2s, with scheduling slack
}

TEST_F(AgentHostile, HeaderBombsGet431AndMemoryIsGivenBack) {
  long before = rss_kib(agent.pid());
  for (int round = 0; round < 4; ++round) {
    RawConn c(agent.addr());
    ASSERT_TRUE(c.ok());
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\n");
    // 40 MiB of header lines; the agent answers after 16 KiB and closes, so most of it is
    // refused by the closed socket.
    std::string line = "X-Bomb: " + std::string(1000, 'a') + "\r\n";
    std::string chunk;
    for (int i = 0; i < 1024; ++i) chunk += line;
    for (int i = 0; i < 40; ++i)
      if (!c.send(chunk)) break;
    std::string r = c.read(3s);
    if (!r.empty()) {
      EXPECT_EQ(status_of(r), 431) << r.substr(0, 200);
    }
  }
  // A head of many small fields is refused too.
  RawConn c(agent.addr());
  std::string many = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 200; ++i) many += "X-F" + std::to_string(i) + ": 1\r\n";
  ASSERT_TRUE(c.send(many + "\r\n"));
  std::string r = c.read(3s);
  EXPECT_EQ(status_of(r), 431) << r;
  EXPECT_NE(r.find("\"error\""), std::string::npos) << "not the JSON error shape: " << r;
  long after = rss_kib(agent.pid());
  EXPECT_LT(after - before, 32 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
  EXPECT_GE(healthz_ms(agent), 0);
}

TEST_F(AgentHostile, AnnouncedHugeBodyGets413AtOnce) {
  RawConn c(agent.addr());
  auto t0 = Clock::now();
  ASSERT_TRUE(c.send("POST /v1/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + agent.token() +
                     "\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n"));
  std::string r = c.read(3s, "\r\n\r\n");
  EXPECT_EQ(status_of(r), 413) << r;
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(agent.job_count(), 0);
}

TEST_F(AgentHostile, AmbiguousFramingIsRefused) {
  // RFC 9112 6.3: Transfer-Encoding with Content-Length is a smuggling attempt, not a request.
  RawConn c(agent.addr());
  ASSERT_TRUE(c.send("POST /v1/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + agent.token() +
                     "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
  std::string r = c.read(3s);
  EXPECT_EQ(status_of(r), 400) << r;
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_EQ(agent.job_count(), 0);
}

TEST_F(AgentHostile, BadEncodingsAreA400WithTheUsualError) {
  for (const char* target : {"/v1/jobs/%ff", "/v1/jobs?state=%ff", "/v1/jobs/%zz",
                             "/v1/jobs?cursor=99999999999999999999", "/v1/jobs?limit=-1",
                             "/v1/jobs/x/output?offset=18446744073709551616"}) {
    auto r = agent.client().Get(target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 400) << target << ": " << r->body;
    auto j = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(!j.is_discarded() && j["error"]["message"].is_string())
        << target << ": " << r->body;
  }
  auto r = agent.client().Get("/v1/jobs?state=%ff");
  EXPECT_EQ(json::parse(r->body)["error"]["field"], "state");
}

TEST_F(AgentHostile, BearerSchemeIsCaseInsensitive) {
  for (const char* scheme : {"bearer", "BEARER", "Bearer", "bEaReR"}) {
    RawConn c(agent.addr());
    ASSERT_TRUE(c.send("GET /v1/jobs HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: " +
                       std::string(scheme) + " " + agent.token() + "\r\n\r\n"));
    EXPECT_EQ(status_of(c.read(3s)), 200) << scheme;
  }
  RawConn c(agent.addr());
  ASSERT_TRUE(
      c.send("GET /v1/jobs HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Basic " +
             agent.token() + "\r\n\r\n"));
  EXPECT_EQ(status_of(c.read(3s)), 401);
}

TEST_F(AgentHostile, PipelinedRequestsAreAnsweredInOrder) {
  RawConn c(agent.addr());
  std::string t = agent.token();
  ASSERT_TRUE(c.send(get("/healthz", t) + get("/v1/nope", t) + get("/v1/jobs/none", t) +
                     get("/v1/jobs?limit=1", t, "Connection: close\r\n")));
  std::string all = c.read(5s);
  std::vector<int> statuses;
  for (size_t pos = 0; (pos = all.find("HTTP/1.1 ", pos)) != std::string::npos; pos += 9)
    statuses.push_back(std::atoi(all.c_str() + pos + 9));
  EXPECT_EQ(statuses, (std::vector<int>{200, 404, 404, 200})) << all;
}

TEST_F(AgentHostile, FollowersCostNoThreadAndVanishedOnesAreReleased) {
  std::string id = agent.submit_ok({{"command", {"sleep", "30"}}});
  std::vector<RawConn> followers;
  for (int i = 0; i < 100; ++i) {
    followers.emplace_back(agent.addr());
    ASSERT_TRUE(followers.back().send(get("/v1/jobs/" + id + "/output?follow=1", agent.token())));
  }
  for (auto& f : followers) EXPECT_EQ(status_of(f.read(5s, "\r\n\r\n")), 200);
  EXPECT_EQ(wait_metric(agent, "tend_http_streams_open", 100, 5s), 100);
  // Threads: the agent's main thread and the scheduler's, however many streams are open.
  std::ifstream status("/proc/" + std::to_string(agent.pid()) + "/status");
  std::string line;
  long threads = -1;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) threads = std::atol(line.c_str() + 8);
  EXPECT_LE(threads, 4);
  long ms = healthz_ms(agent);
  EXPECT_GE(ms, 0);
  EXPECT_LT(ms, 1000);
  // Clients that leave a quiet job's stream are noticed at once, not when the job ends.
  followers.clear();
  EXPECT_EQ(wait_metric(agent, "tend_http_streams_open", 0, 3s), 0);
  agent.client().Post("/v1/jobs/" + id + "/cancel");
}

TEST(AgentHostileLimits, ConnectionsBeyondTheCapGetA503) {
  Agent agent{{"--max-connections", "8"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::vector<RawConn> held;
  for (int i = 0; i < 8; ++i) {
    held.emplace_back(agent.addr());
    ASSERT_TRUE(held.back().send(get("/healthz", agent.token())));
    EXPECT_EQ(status_of(held.back().read(3s, "\r\n\r\n")), 200);
  }
  RawConn extra(agent.addr());
  std::string r = extra.read(3s);
  EXPECT_EQ(status_of(r), 503) << r;
  EXPECT_NE(r.find("too many connections"), std::string::npos) << r;
  held.clear();
  // Room again once they are gone.
  auto deadline = Clock::now() + 5s;
  long ms = -1;
  while (ms < 0 && Clock::now() < deadline) {
    ms = healthz_ms(agent);
    if (ms < 0) std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(ms, 0);
}

TEST(AgentHostileLimits, SecondAgentOnATakenPortExits125) {
  Agent first;
  ASSERT_TRUE(first.start()) << first.last_error();
  std::string dir = make_temp_dir();
  std::string cmd = std::string(TEND_BINARY) + " agent --listen " + first.addr() + " --data " +
                    dir + " >" + dir + "/out 2>&1";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 125);
  std::string out = read_text(dir + "/out");
  std::string lower = out;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_NE(lower.find("address already in use"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/token")) << "a token was made for a failed start";
  EXPECT_EQ(first.job_count(), 0);  // the first one still answers, alone
  std::filesystem::remove_all(dir);
}

TEST(AgentHostileLimits, NonLoopbackWithoutATokenIsRefused) {
  std::string dir = make_temp_dir();
  for (const char* listen : {"0.0.0.0:0", "[::]:0"}) {
    std::string cmd = std::string(TEND_BINARY) + " agent --listen " + listen + " --data " + dir +
                      " >" + dir + "/out 2>&1";
    int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 125) << listen;
    EXPECT_NE(read_text(dir + "/out").find("without a token"), std::string::npos)
        << read_text(dir + "/out");
    EXPECT_FALSE(std::filesystem::exists(dir + "/token"));
  }
  std::filesystem::remove_all(dir);
}

TEST(AgentHostileLimits, TokenIsNotPrintedToALog) {
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string log = read_text(agent.data() + "/agent.log");
  EXPECT_EQ(log.find(agent.token()), std::string::npos) << "the token went to a log: " << log;
  EXPECT_NE(log.find(agent.data() + "/token"), std::string::npos) << log;
}

TEST(AgentHostileLimits, SigtermWithFollowersStopsPromptlyAndJobsGoOn) {
  std::string data = make_temp_dir();
  std::string m = unique_marker();
  std::string id;
  {
    Agent agent({}, data);
    ASSERT_TRUE(agent.start()) << agent.last_error();
    id = agent.submit_ok({{"command", {"sh", "-c", "sleep 3; echo done; exit 4"}},
                          {"env", {{"TEND_TEST_MARKER", m}}}});
    std::vector<RawConn> followers;
    for (int i = 0; i < 20; ++i) {
      followers.emplace_back(agent.addr());
      followers.back().send(get("/v1/jobs/" + id + "/output?follow=1", agent.token()));
    }
    for (auto& f : followers) f.read(3s, "\r\n\r\n");
    auto t0 = Clock::now();
    ::kill(agent.pid(), SIGTERM);
    int status = 0;
    ::waitpid(agent.pid(), &status, 0);
    EXPECT_LT(Clock::now() - t0, 3s) << "the agent waited for its streams";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (auto& f : followers) EXPECT_TRUE(f.wait_closed(1s));
    agent.stop(0);  // already reaped: forget it
  }
  // A restart at once works (the database was released) and the job ends with its own status.
  Agent again({}, data);
  ASSERT_TRUE(again.start()) << again.last_error();
  json j = again.wait_final(id, 20s);
  EXPECT_EQ(j["state"], "failed");
  EXPECT_EQ(j["exit_code"], 4);
  EXPECT_EQ(again.output(id), "done\n");
  EXPECT_EQ(wait_marked_gone(m), 0);
}

TEST_F(AgentHostile, CompressionOnlyGzipAndAssetsRevalidate) {
  for (int i = 0; i < 20; ++i) agent.submit_ok({{"command", {"true"}}});
  auto c = agent.client();
  c.set_decompress(false);
  auto r = c.Get("/v1/jobs?limit=20", {{"Accept-Encoding", "br, gzip"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Encoding"), "gzip");
  auto plain = c.Get("/v1/jobs?limit=20", {{"Accept-Encoding", "br"}});
  EXPECT_EQ(plain->get_header_value("Content-Encoding"), "");

  auto page = agent.client(false).Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  std::string tag = page->get_header_value("ETag");
  EXPECT_FALSE(tag.empty());
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_EQ(page->get_header_value("X-Frame-Options"), "DENY");
  auto again = agent.client(false).Get("/", {{"If-None-Match", tag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
}

TEST(AgentConfig, ConfigFileIsReadFlagsWinUnknownKeysAreRefused) {
  std::string dir = make_temp_dir();
  {
    std::ofstream conf(dir + "/agent.conf");
    conf << "# a comment\nmax-queued = 1\nmax-connections = 8\n";
  }
  // The file's max-queued (1) holds; the command line's max-connections wins over the file's.
  Agent agent{{"--config", dir + "/agent.conf", "--max-connections", "16", "--max-running", "1"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  agent.submit_ok({{"command", {"sleep", "5"}}});
  std::string queued;
  for (int i = 0; i < 50 && queued.empty(); ++i) {
    auto r = agent.submit({{"command", {"true"}}});
    if (r && r->status == 201) continue;
    if (r && r->status == 429) queued = r->body;
  }
  EXPECT_NE(queued.find("1 jobs waiting"), std::string::npos) << "max-queued from the file was not used";
  std::vector<RawConn> held;
  for (int i = 0; i < 12; ++i) {
    held.emplace_back(agent.addr());
    held.back().send(get("/healthz", agent.token()));
    EXPECT_EQ(status_of(held.back().read(3s, "\r\n\r\n")), 200) << "connection " << i;
  }
  {
    std::ofstream bad(dir + "/bad.conf");
    bad << "max-queued = 1\nno-such-option = 3\n";
  }
  for (const std::string& conf : {dir + "/bad.conf", dir + "/missing.conf"}) {
    std::string cmd = std::string(TEND_BINARY) + " agent --listen 127.0.0.1:0 --data " + dir +
                      "/d --config " + conf + " >" + dir + "/out 2>&1";
    int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 125) << conf << ": " << read_text(dir + "/out");
    EXPECT_FALSE(std::filesystem::exists(dir + "/d")) << "a refused start created the data directory";
  }
  std::filesystem::remove_all(dir);
}
