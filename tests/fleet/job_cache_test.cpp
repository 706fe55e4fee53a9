// The server's watch-fed view of jobs (src/server/job_cache.hpp) against a real 3-member etcd:
// a poll of a job the view holds reads nothing from etcd; a job this server wrote is there at
// once; a job written elsewhere is found (never a 404); a view known to be behind is never
// served; a compaction while the server's watch is down is survived; the view is bounded.
// Runs are written here as an agent writes them (runs/ID/NAME), so the server is tested alone.
#include <chrono>
#include <thread>

#include "fleet/protocol.hpp"
#include "fleet_fixture.hpp"
#include "server_harness.hpp"

namespace tend::test {
namespace {

class JobCacheTest : public FleetTest {
 protected:
  void SetUp() override {
    FleetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dir = temp_dir("jobcache");
    token_file = write_token(dir, "t0ken-of-the-cache");
    view.emplace(cluster->endpoints());
    join("a");
  }
  void TearDown() override {
    servers.clear();
    FleetTest::TearDown();
    if (!HasFailure() && !dir.empty()) std::filesystem::remove_all(dir);
  }

  // A server on `endpoints` (all members by default), started, its view current.
  FleetServer& start_server(std::vector<std::string> extra = {}, std::string endpoints = "") {
    servers.push_back(std::make_unique<FleetServer>(
        endpoints.empty() ? cluster->endpoints() : endpoints, token_file));
    FleetServer& s = *servers.back();
    EXPECT_TRUE(s.start(20s, extra)) << s.error();
    EXPECT_TRUE(eventually([&] { return current(s); }, 30s)) << s.log();
    return s;
  }
  static bool current(const FleetServer& s) {
    return s.metric("tend_server_job_cache_current") == 1;
  }
  void join(const std::string& name) {
    int64_t lease = view->grant(60);
    ASSERT_NE(lease, 0);
    fleet::MachineRecord rec{name, {}, "http://127.0.0.1:9", "test", "i-" + name};
    ASSERT_TRUE(view->put("/tend/machines/" + name, fleet::to_json(rec).dump(), lease));
  }
  static std::string submit(FleetServer& s) {
    auto r = s.submit({{"command", {"true"}}, {"target", {{"machines", {"a"}}}}});
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? json::parse(r->body)["id"].get<std::string>() : "";
  }
  void run_state(const std::string& id, const std::string& record) {
    ASSERT_TRUE(view->put("/tend/runs/" + id + "/a", record));
  }
  static int status_of(const FleetServer& s, const std::string& id) {
    auto r = s.client().Get("/v1/jobs/" + id);
    return r ? r->status : -1;
  }
  static bool run_is(const FleetServer& s, const std::string& id, const std::string& state) {
    auto r = s.client().Get("/v1/jobs/" + id);
    if (!r || r->status != 200) return false;
    json j = json::parse(r->body, nullptr, false);
    return j.is_object() && j["runs"][0]["state"] == state;
  }

  std::string dir, token_file;
  std::optional<EtcdView> view;
  std::vector<std::unique_ptr<FleetServer>> servers;
};

TEST_F(JobCacheTest, AJobJustSubmittedIsSeenAtOnceAndPollsOfItReadNothingFromEtcd) {
  FleetServer& s = start_server();
  // Read-your-writes: right after the 201, from the view (created() inserted it). Every answer
  // is right; on a loaded machine the view may not be current for a moment (then etcd answers),
  // so 3 jobs, of which at least one must come from the view.
  const long long hits0 = s.metric("tend_server_job_cache_hits_total");
  std::string id;
  for (int i = 0; i < 3; ++i) {
    id = submit(s);
    ASSERT_FALSE(id.empty());
    json job = s.get("/v1/jobs/" + id);
    EXPECT_EQ(job["state"], "queued");
    EXPECT_EQ(job["runs"][0]["state"], "assigned");
  }
  EXPECT_GE(s.metric("tend_server_job_cache_hits_total"), hits0 + 1)
      << "no job this server just wrote was in its view";

  // A run's change reaches the view through the watch.
  run_state(id, R"({"state":"running"})");
  ASSERT_TRUE(eventually([&] { return run_is(s, id, "running"); }, 10s)) << s.log();

  // 50 polls: each one answered from the view costs etcd no call; one read from etcd (the view
  // was not current for a moment on a loaded machine) costs one. Every answer is right.
  const long long calls0 = s.metric("tend_etcd_calls_total");
  const long long hits1 = s.metric("tend_server_job_cache_hits_total");
  const long long misses1 = s.metric("tend_server_job_cache_misses_total");
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(run_is(s, id, "running"));
  const long long hits = s.metric("tend_server_job_cache_hits_total") - hits1;
  const long long misses = s.metric("tend_server_job_cache_misses_total") - misses1;
  std::printf("[ figures ] 50 polls: %lld from the view, %lld from etcd\n", hits, misses);
  EXPECT_EQ(hits + misses, 50);
  EXPECT_GE(hits, 1) << "no poll was answered from the view";
  EXPECT_EQ(s.metric("tend_etcd_calls_total") - calls0, misses)
      << "a poll answered from the view read etcd";

  run_state(id, R"({"state":"succeeded","exit_code":0,"output_bytes":7})");
  json job = wait_job_final(s, id, 10s);
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["runs"][0]["exit_code"], 0);
  EXPECT_EQ(job["runs"][0]["output_bytes"], 7);
}

TEST_F(JobCacheTest, AJobWrittenElsewhereIsFoundAtOnceNeverA404) {
  FleetServer& s1 = start_server();
  FleetServer& s2 = start_server();
  // Submitted through the other server, asked of this one at once: its view may not have it
  // yet, so it reads etcd.
  for (int i = 0; i < 20; ++i) {
    std::string id = submit(s2);
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(status_of(s1, id), 200) << id;
  }
  // Written straight to etcd (not through a server at all).
  fleet::JobSpec spec;
  spec.id = "0000000000direct";
  spec.request = {{"command", {"true"}}};
  spec.target = {{"machines", {"a"}}};
  spec.machines = {"a"};
  spec.created_at = "2026-01-01T00:00:00Z";
  ASSERT_TRUE(view->put("/tend/jobs/" + spec.id, fleet::to_json(spec).dump()));
  EXPECT_EQ(status_of(s1, spec.id), 200);
  // Then from the view, with its runs as written.
  run_state(spec.id, R"({"state":"failed","exit_code":3})");
  EXPECT_TRUE(eventually([&] { return run_is(s1, spec.id, "failed"); }, 10s));
  EXPECT_EQ(status_of(s1, "0000000000absent"), 404);
}

// The server knows only member 0. With member 0 killed the view is not current (the watch is
// down): a poll goes to etcd (unreachable: 503), never to the stale view. Meanwhile the job ends
// through member 1 and etcd is compacted past it; member 0 returns: the watch's revision is
// gone, the view is read again, and shows the job's true end.
TEST_F(JobCacheTest, TheViewIsNotServedWhileItsWatchIsDownAndSurvivesACompaction) {
  FleetServer& s = start_server({}, cluster->endpoint(0));
  std::string id = submit(s);
  ASSERT_FALSE(id.empty());
  run_state(id, R"({"state":"running"})");
  ASSERT_TRUE(eventually([&] { return run_is(s, id, "running"); }, 10s));

  cluster->kill(0);
  EXPECT_TRUE(eventually([&] { return !current(s); }, 10s)) << "the view stays current";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(status_of(s, id), 503) << "served a view behind etcd";

  int64_t compacted = 0;
  auto c = client(1);
  run([&]() -> asio::awaitable<void> {
    etcd::PutRequest done{"/tend/runs/" + id + "/a", R"({"state":"succeeded","exit_code":0})"};
    CO_ASSERT_OK(co_await c->put(done));
    etcd::Result<etcd::PutResult> last = etcd::Error{};
    for (int i = 0; i < 200; ++i) {
      etcd::PutRequest p{"/noise/" + std::to_string(i % 20), std::string(100, 'x')};
      last = co_await c->put(p);
      CO_ASSERT_OK(last);
    }
    compacted = last->header.revision;
    CO_ASSERT_OK(co_await c->compact(compacted));
  });
  ASSERT_GT(compacted, 200);
  EXPECT_EQ(status_of(s, id), 503);

  cluster->restart(0);
  ASSERT_TRUE(cluster->wait_healthy(0, 60s));
  EXPECT_TRUE(eventually([&] { return run_is(s, id, "succeeded"); }, 60s)) << s.log();
  EXPECT_TRUE(eventually([&] { return current(s); }, 60s)) << s.log();
  std::printf("[ figures ] view loads %lld, resyncs %lld\n",
              s.metric("tend_server_job_cache_loads_total"),
              s.metric("tend_server_job_cache_resyncs_total"));
  // Served from the view again, with the true state.
  const long long hits = s.metric("tend_server_job_cache_hits_total");
  EXPECT_TRUE(eventually(
      [&] {
        return run_is(s, id, "succeeded") && s.metric("tend_server_job_cache_hits_total") > hits;
      },
      30s));
  // A change after the resync still reaches the view.
  std::string id2 = submit(s);
  ASSERT_FALSE(id2.empty());
  run_state(id2, R"({"state":"running"})");
  EXPECT_TRUE(eventually([&] { return run_is(s, id2, "running"); }, 10s));
}

// --job-cache 3: at most 3 ended jobs held (the most recent); an older one is read from etcd,
// still right. The bound holds after a restart's full read too.
TEST_F(JobCacheTest, TheViewKeepsABoundedNumberOfEndedJobsAndReadsTheRestFromEtcd) {
  FleetServer& s = start_server({"--job-cache", "3"});
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(submit(s));
    ASSERT_FALSE(ids.back().empty());
  }
  std::string last_running = submit(s);  // not ended: always held
  ASSERT_FALSE(last_running.empty());
  for (const auto& id : ids) run_state(id, R"({"state":"succeeded","exit_code":0})");
  run_state(last_running, R"({"state":"running"})");
  EXPECT_TRUE(eventually([&] { return run_is(s, ids.back(), "succeeded"); }, 10s));
  EXPECT_TRUE(eventually([&] { return s.metric("tend_server_job_cache_jobs") == 4; }, 10s))
      << s.metric("tend_server_job_cache_jobs");
  const long long misses = s.metric("tend_server_job_cache_misses_total");
  EXPECT_TRUE(run_is(s, ids.front(), "succeeded"));  // evicted: from etcd
  EXPECT_EQ(s.metric("tend_server_job_cache_misses_total"), misses + 1);
  EXPECT_TRUE(run_is(s, last_running, "running"));

  FleetServer& again = start_server({"--job-cache", "3"});
  EXPECT_EQ(again.metric("tend_server_job_cache_jobs"), 4);
  for (const auto& id : ids) EXPECT_TRUE(run_is(again, id, "succeeded")) << id;
}

// GET /v1/jobs/{id}?wait=: answered when the job changes (not before: the answer carries the
// change), at the deadline when nothing changed, at once for an ended job; a bad duration is
// 400. With the view off (--job-cache 0) the same, read from etcd.
TEST_F(JobCacheTest, ALongPollAnswersWhenTheJobChangesOrAtItsDeadline) {
  for (const char* cache : {"1000", "0"}) {
    SCOPED_TRACE(std::string("--job-cache ") + cache);
    servers.push_back(std::make_unique<FleetServer>(cluster->endpoints(), token_file));
    FleetServer& s = *servers.back();
    ASSERT_TRUE(s.start(20s, {"--job-cache", cache})) << s.error();
    if (std::string(cache) != "0") {
      ASSERT_TRUE(eventually([&] { return current(s); }, 30s));
    }
    std::string id = submit(s);
    ASSERT_FALSE(id.empty());
    run_state(id, R"({"state":"running"})");
    ASSERT_TRUE(eventually([&] { return run_is(s, id, "running"); }, 10s));

    for (const char* bad : {"abc", "0", "-1s", "61s", ""}) {
      auto r = s.client().Get("/v1/jobs/" + id + "?wait=" + bad);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
      EXPECT_NE(r->body.find("\"wait\""), std::string::npos) << r->body;
    }

    // Nothing changes: the answer comes at the deadline, as the job is.
    auto t0 = std::chrono::steady_clock::now();
    auto r = s.client().Get("/v1/jobs/" + id + "?wait=1s");
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    EXPECT_EQ(json::parse(r->body)["runs"][0]["state"], "running");
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 20s);

    // The run ends while a long-poll waits: its answer is the end, well before its deadline.
    std::thread writer([&] {
      std::this_thread::sleep_for(500ms);
      run_state(id, R"({"state":"succeeded","exit_code":0})");
    });
    t0 = std::chrono::steady_clock::now();
    r = s.client().Get("/v1/jobs/" + id + "?wait=50s");
    took = std::chrono::steady_clock::now() - t0;
    writer.join();
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    EXPECT_EQ(json::parse(r->body)["state"], "succeeded") << r->body;
    EXPECT_LT(took, 30s);

    // Ended: at once.
    t0 = std::chrono::steady_clock::now();
    r = s.client().Get("/v1/jobs/" + id + "?wait=50s");
    ASSERT_TRUE(r && r->status == 200);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
    EXPECT_EQ(status_of(s, "0000000000absent"), 404);
    auto absent = s.client().Get("/v1/jobs/0000000000absent?wait=5s");
    ASSERT_TRUE(absent);
    EXPECT_EQ(absent->status, 404);
  }
}

// A long-poll does not hold the server: SIGTERM ends it within the HTTP layer's grace, not at
// the poll's deadline (60 s).
TEST_F(JobCacheTest, AServerStoppedDuringALongPollExitsAtOnce) {
  FleetServer& s = start_server();
  std::string id = submit(s);
  ASSERT_FALSE(id.empty());
  run_state(id, R"({"state":"running"})");
  ASSERT_TRUE(eventually([&] { return run_is(s, id, "running"); }, 10s));
  auto looks = [&] {
    return s.metric("tend_server_job_cache_hits_total") +
           s.metric("tend_server_job_cache_misses_total");
  };
  const long long before = looks();
  std::thread poller([&] { (void)s.client().Get("/v1/jobs/" + id + "?wait=60s"); });
  // Its first look at the job is counted: the long-poll has begun.
  EXPECT_TRUE(eventually([&] { return looks() > before; }, 10s));
  std::this_thread::sleep_for(300ms);  // the long-poll is waiting
  auto t0 = std::chrono::steady_clock::now();
  s.kill(SIGTERM);
  auto took = std::chrono::steady_clock::now() - t0;
  poller.join();
  EXPECT_LT(took, 30s) << "the server waited for the long-poll's deadline";
}

TEST_F(JobCacheTest, ABadJobCacheSizeExits125AndZeroTurnsTheViewOff) {
  for (const char* bad : {"-1", "x", "1000001", ""}) {
    Command cmd({TEND_BINARY, "server", "--etcd", cluster->endpoints(), "--token-file", token_file,
                 "--listen", "127.0.0.1:0", "--job-cache", bad});
    cmd.stdin_(Stdio::null())
        .stdout_(Stdio::file(dir + "/bad.txt"))
        .stderr_(Stdio::file(dir + "/bad.txt"));
    auto child = spawn(cmd);
    ASSERT_TRUE(child);
    auto st = child->wait();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->shell_code(), 125) << bad;
    EXPECT_NE(read_text(dir + "/bad.txt").find("--job-cache"), std::string::npos) << bad;
  }
  servers.push_back(std::make_unique<FleetServer>(cluster->endpoints(), token_file));
  FleetServer& off = *servers.back();
  ASSERT_TRUE(off.start(20s, {"--job-cache", "0"})) << off.error();
  EXPECT_EQ(off.metric("tend_server_job_cache_current"), -1) << "no view with --job-cache 0";
  std::string id = submit(off);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(status_of(off, id), 200);
}

}  // namespace
}  // namespace tend::test
