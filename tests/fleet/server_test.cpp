// `tend server` against a real 3-member etcd: the API's answers and what they write (counted in
// etcd). Machines are registered here the way an agent registers (machines/NAME on a lease,
// seen/NAME without), so the server's side is tested on its own; the runs themselves, with
// real agents, are in fleet_run_test.cpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "fleet/protocol.hpp"
#include "fleet_fixture.hpp"
#include "server_harness.hpp"

namespace tend::test {
namespace {

class ServerTest : public FleetTest {
 protected:
  void SetUp() override {
    FleetTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dir = temp_dir("fleet");
    token_file = write_token(dir, "t0ken-of-the-fleet");
    view.emplace(cluster->endpoints());
    server.emplace(cluster->endpoints(), token_file);
    ASSERT_TRUE(server->start()) << server->error();
  }
  void TearDown() override {
    server.reset();
    FleetTest::TearDown();
    if (!HasFailure() && !dir.empty()) std::filesystem::remove_all(dir);
  }

  // Registers NAME as an agent does: online while `lease` lives (0: a lease of 30 s).
  int64_t join(const std::string& name, const std::map<std::string, std::string>& labels,
               const std::string& address, int64_t lease = 0) {
    if (!lease) lease = view->grant(30);
    EXPECT_NE(lease, 0);
    fleet::MachineRecord rec{name, labels, address, "test", "i-" + name};
    EXPECT_TRUE(view->put("/tend/machines/" + name, fleet::to_json(rec).dump(), lease));
    fleet::SeenRecord seen{name, labels, address, "test", "2026-01-01T00:00:00Z"};
    EXPECT_TRUE(view->put("/tend/seen/" + name, fleet::to_json(seen).dump()));
    return lease;
  }
  // What the agent of `machine` writes when it claims the run (with the claim, one txn).
  void claimed(const std::string& id, const std::string& machine) {
    EXPECT_TRUE(view->put("/tend/claims/" + id + "/" + machine, R"({"instance":"i"})"));
    EXPECT_TRUE(view->put("/tend/runs/" + id + "/" + machine, R"({"state":"running"})"));
  }
  void join_three() {
    join("a", {{"role", "web"}}, "http://127.0.0.1:9");
    join("b", {{"role", "web"}}, "http://127.0.0.1:9");
    join("c", {{"role", "db"}}, "http://127.0.0.1:9");
  }
  long long written() const { return view->count("/tend/jobs/") + view->count("/tend/assign/"); }

  std::string dir, token_file;
  std::optional<EtcdView> view;
  std::optional<FleetServer> server;
};

// `tend server ARGS...`: exit status and what it printed (stdout and stderr).
std::pair<int, std::string> run_tend(std::vector<std::string> args, const std::string& dir) {
  Command cmd({TEND_BINARY});
  for (auto& a : args) cmd.arg(a);
  std::string out = dir + "/out.txt";
  cmd.stdin_(Stdio::null()).stdout_(Stdio::file(out)).stderr_(Stdio::file(out));
  auto child = spawn(cmd);
  if (!child) return {-1, child.error().message()};
  auto st = child->wait();
  return {st ? st->shell_code() : -1, read_text(out)};
}

TEST_F(ServerTest, BadFlagsExit125WithOneLine) {
  const std::string e = "--etcd=" + cluster->endpoints();
  const std::string t = "--token-file=" + token_file;
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"server"},
                                             {"server", t},
                                             {"server", e},
                                             {"server", e, t, "--listen", "nowhere"},
                                             {"server", e, t, "--listen", "127.0.0.1:99999"},
                                             {"server", "--etcd", "ftp://x", t},
                                             {"server", e, t, "--etcd-prefix", "tend"},
                                             {"server", e, t, "--etcd-wait", "soon"},
                                             {"server", e, "--token-file", dir + "/missing"},
                                             {"server", e, t, "--lost-after", "soon"},
                                             {"server", e, t, "--lost-after", "500ms"},
                                             {"server", e, t, "--lost-after", "-5m"},
                                             {"server", e, t, "--bogus"}}) {
    auto [rc, out] = run_tend(args, dir);
    std::string all;
    for (auto& a : args) all += a + " ";
    EXPECT_EQ(rc, 125) << all << "\n" << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << all << "\n" << out;
    EXPECT_EQ(out.rfind("tend server: ", 0), 0u) << all << "\n" << out;
  }
}

// Runs become lost only after their machine's lease lapsed: a --lost-after not longer than a
// known agent's --ttl is refused at start (the TTLs are in seen/NAME); 0/off needs none.
TEST_F(ServerTest, LostAfterNotLongerThanAnAgentsTtlIsRefused) {
  fleet::SeenRecord seen{"slow", {}, "http://127.0.0.1:9", "test", "2026-01-01T00:00:00Z"};
  seen.ttl = 10;
  ASSERT_TRUE(view->put("/tend/seen/slow", fleet::to_json(seen).dump()));
  std::vector<std::string> base = {"server",   "--etcd",   cluster->endpoints(), "--token-file",
                                   token_file, "--listen", "127.0.0.1:0"};
  auto with = [&](std::string v) {
    auto args = base;
    args.insert(args.end(), {"--lost-after", v});
    return args;
  };
  auto [rc, out] = run_tend(with("10s"), dir);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_EQ(out,
            "tend server: --lost-after 10s must be longer than the agents' --ttl: machine slow "
            "has 10s\n");
  FleetServer fine(cluster->endpoints(), token_file);
  EXPECT_TRUE(fine.start(20s, {"--lost-after", "11s"})) << fine.error();
  FleetServer off(cluster->endpoints(), token_file);
  EXPECT_TRUE(off.start(20s, {"--lost-after", "off"})) << off.error();
  EXPECT_EQ(off.metric("tend_server_housekeeper"), 0);
}

TEST_F(ServerTest, UnreachableEtcdAtStartIsAClearErrorAfterABoundedWait) {
  auto t0 = std::chrono::steady_clock::now();
  auto [rc, out] = run_tend({"server", "--etcd", "http://127.0.0.1:1", "--token-file", token_file,
                             "--listen", "127.0.0.1:0", "--etcd-wait", "2s"},
                            dir);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("did not answer within"), std::string::npos) << out;
  EXPECT_LT(took, 10s);
  EXPECT_GE(took, 2s);
}

TEST_F(ServerTest, PrintsWhereItListensAndWhichEtcd) {
  std::string log = server->log();
  EXPECT_NE(log.find("listening on http://" + server->addr() + "/"), std::string::npos) << log;
  EXPECT_NE(log.find(cluster->endpoints()), std::string::npos) << log;
}

TEST_F(ServerTest, HealthzIsOpenTheApiIsNot) {
  auto open = server->client(false).Get("/healthz");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200);
  for (const char* path : {"/v1/machines", "/v1/jobs", "/metrics"}) {
    auto r = server->client(false).Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
  }
  auto wrong = httplib::Client("http://" + server->addr());
  wrong.set_bearer_token_auth("not-the-token");
  auto r =
      wrong.Post("/v1/jobs", R"({"command":["true"],"target":{"all":true}})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(written(), 0);
}

TEST_F(ServerTest, MachinesOnlineAndUnreachableStayListed) {
  join("a", {{"role", "web"}}, "http://127.0.0.11:8600");
  int64_t lease_b = join("b", {{"role", "db"}}, "http://127.0.0.12:8600");
  json m = server->get("/v1/machines");
  ASSERT_EQ(m["machines"].size(), 2u) << m.dump();
  EXPECT_EQ(m["machines"][0]["name"], "a");
  EXPECT_EQ(m["machines"][0]["state"], "online");
  EXPECT_EQ(m["machines"][0]["labels"]["role"], "web");
  EXPECT_EQ(m["machines"][0]["address"], "http://127.0.0.11:8600");
  EXPECT_EQ(m["machines"][0]["version"], "test");
  EXPECT_TRUE(m["machines"][0]["last_seen"].is_string());
  // b's lease lapses (its agent died): still listed, unreachable, with what seen/ recorded.
  ASSERT_TRUE(view->revoke(lease_b));
  m = server->get("/v1/machines");
  ASSERT_EQ(m["machines"].size(), 2u) << m.dump();
  EXPECT_EQ(m["machines"][1]["name"], "b");
  EXPECT_EQ(m["machines"][1]["state"], "unreachable");
  EXPECT_EQ(m["machines"][1]["labels"]["role"], "db");
  EXPECT_EQ(m["machines"][1]["last_seen"], "2026-01-01T00:00:00.000Z");
}

TEST_F(ServerTest, BadSubmissionsAre400AndWriteNothing) {
  join_three();
  (void)view->revoke(join("gone", {{"role", "old"}}, "http://127.0.0.1:9"));
  struct Case {
    json body;
    const char* field;
  };
  const json cmd = {"true"};
  std::vector<Case> cases = {
      {{{"command", cmd}}, "target"},
      {{{"command", cmd}, {"target", "a"}}, "target"},
      {{{"command", cmd}, {"target", json::object()}}, "target"},
      {{{"command", cmd}, {"target", {{"machines", json::array()}}}}, "target"},
      {{{"command", cmd}, {"target", {{"machines", {"a", "nope"}}}}}, "target"},
      {{{"command", cmd}, {"target", {{"machines", {"a", 3}}}}}, "target"},
      {{{"command", cmd}, {"target", {{"match", {{"role", "none"}}}}}}, "target"},
      {{{"command", cmd}, {"target", {{"match", {{"role", "old"}}}}}}, "target"},  // offline
      {{{"command", cmd}, {"target", {{"all", true}, {"machines", {"a"}}}}}, "target"},
      {{{"command", cmd}, {"target", {{"all", false}}}}, "target"},
      {{{"target", {{"all", true}}}}, "command"},
      {{{"command", cmd}, {"timeout", "soon"}, {"target", {{"all", true}}}}, "timeout"},
      {{{"command", cmd}, {"colour", "red"}, {"target", {{"all", true}}}}, "colour"},
  };
  for (const auto& c : cases) {
    auto r = server->submit(c.body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << c.body.dump() << " -> " << r->body;
    json e = json::parse(r->body, nullptr, false);
    EXPECT_EQ(e["error"]["field"], c.field) << c.body.dump() << " -> " << r->body;
    EXPECT_TRUE(e["error"]["message"].is_string());
  }
  auto raw = server->client().Post("/v1/jobs", "{not json", "application/json");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 400);
  EXPECT_EQ(written(), 0) << "a refused submission wrote to etcd";
  EXPECT_EQ(server->metric("tend_etcd_writes_total"), 0);
}

TEST_F(ServerTest, SubmitWritesTheJobAndOneAssignmentPerMachineInOneTxn) {
  join_three();
  long long writes_before = server->metric("tend_etcd_writes_total");
  auto r = server->submit({{"command", {"echo", "hi"}},
                           {"labels", {{"team", "ops"}}},
                           {"target", {{"match", {{"role", "web"}}}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  json created = json::parse(r->body);
  std::string id = created["id"];
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(created["machines"], json({"a", "b"}));
  EXPECT_EQ(server->metric("tend_etcd_writes_total") - writes_before, 1) << "one txn per job";
  EXPECT_EQ(view->count("/tend/jobs/"), 1);
  EXPECT_EQ(view->count("/tend/assign/"), 2);
  EXPECT_EQ(view->value("/tend/assign/a/" + id), "{}");
  EXPECT_EQ(view->value("/tend/assign/b/" + id), "{}");
  json spec = json::parse(view->value("/tend/jobs/" + id));
  EXPECT_EQ(spec["request"]["command"], json({"echo", "hi"}));
  EXPECT_EQ(spec["machines"], json({"a", "b"}));
  EXPECT_EQ(spec["target"]["match"]["role"], "web");

  // Not claimed yet: assigned; claimed: queued; then the agent's own states.
  json job = server->get("/v1/jobs/" + id);
  EXPECT_EQ(job["state"], "queued");
  ASSERT_EQ(job["runs"].size(), 2u);
  EXPECT_EQ(job["runs"][0]["state"], "assigned");
  ASSERT_TRUE(view->put("/tend/runs/" + id + "/a", R"({"state":"queued"})"));
  ASSERT_TRUE(view->put("/tend/runs/" + id + "/b", R"({"state":"running"})"));
  // The server's view of jobs follows etcd through a watch: a change shows within moments.
  EXPECT_TRUE(eventually(
      [&] {
        job = server->get("/v1/jobs/" + id);
        return job["runs"][1]["state"] == "running";
      },
      10s));
  EXPECT_EQ(job["runs"][0]["state"], "queued");
  EXPECT_EQ(job["runs"][1]["state"], "running");
  EXPECT_EQ(job["state"], "running");
  ASSERT_TRUE(view->put("/tend/runs/" + id + "/a", R"({"state":"succeeded","exit_code":0})"));
  ASSERT_TRUE(view->put("/tend/runs/" + id + "/b",
                        R"({"state":"succeeded","exit_code":0,"output_bytes":3})"));
  EXPECT_TRUE(eventually(
      [&] {
        job = server->get("/v1/jobs/" + id);
        return job["runs"][1]["output_bytes"] == 3;
      },
      10s));
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["runs"][1]["exit_code"], 0);
  EXPECT_EQ(job["runs"][1]["output_bytes"], 3);

  // Newest first; machine= filters.
  auto r2 = server->submit({{"command", {"true"}}, {"target", {{"machines", {"c"}}}}});
  ASSERT_TRUE(r2 && r2->status == 201);
  std::string id2 = json::parse(r2->body)["id"];
  json all = server->get("/v1/jobs");
  ASSERT_EQ(all["jobs"].size(), 2u);
  EXPECT_EQ(all["jobs"][0]["id"], id2);
  EXPECT_EQ(all["jobs"][1]["id"], id);
  json on_a = server->get("/v1/jobs?machine=a");
  ASSERT_EQ(on_a["jobs"].size(), 1u);
  EXPECT_EQ(on_a["jobs"][0]["id"], id);
  EXPECT_EQ(server->get("/v1/jobs?label=team:ops")["jobs"].size(), 1u);
  EXPECT_EQ(server->get("/v1/jobs?state=succeeded")["jobs"].size(), 1u);
  json page = server->get("/v1/jobs?limit=1");
  ASSERT_EQ(page["jobs"].size(), 1u);
  json rest = server->get("/v1/jobs?limit=1&cursor=" + page["next_cursor"].get<std::string>());
  ASSERT_EQ(rest["jobs"].size(), 1u);
  EXPECT_EQ(rest["jobs"][0]["id"], id);
  auto missing = server->client().Get("/v1/jobs/0000000000000000");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(ServerTest, CancelMarksEveryAssignmentStillThere) {
  join_three();
  auto r = server->submit({{"command", {"sleep", "60"}}, {"target", {{"all", true}}}});
  ASSERT_TRUE(r && r->status == 201);
  std::string id = json::parse(r->body)["id"];
  // c's run has ended: its agent wrote the state and removed the assignment.
  ASSERT_TRUE(view->put("/tend/runs/" + id + "/c", R"({"state":"succeeded","exit_code":0})"));
  ASSERT_TRUE(view->erase("/tend/assign/c/" + id));
  auto c = server->client().Post("/v1/jobs/" + id + "/cancel");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 202) << c->body;
  EXPECT_EQ(json::parse(view->value("/tend/assign/a/" + id)), json({{"cancel", true}}));
  EXPECT_EQ(json::parse(view->value("/tend/assign/b/" + id)), json({{"cancel", true}}));
  EXPECT_EQ(view->value("/tend/assign/c/" + id), "") << "an ended run's assignment came back";
  // Once every run has ended, there is nothing to cancel.
  for (const char* m : {"a", "b"})
    ASSERT_TRUE(view->put("/tend/runs/" + id + "/" + m, R"({"state":"cancelled","signal":15})"));
  auto again = server->client().Post("/v1/jobs/" + id + "/cancel");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
  EXPECT_TRUE(
      eventually([&] { return server->get("/v1/jobs/" + id)["state"] == "cancelled"; }, 10s));
  auto unknown = server->client().Post("/v1/jobs/0000000000000000/cancel");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(ServerTest, NoQuorumIs503Within10sAndWritesNothing) {
  join_three();
  cluster->kill(1);
  cluster->kill(2);
  auto t0 = std::chrono::steady_clock::now();
  auto r = server->submit({{"command", {"true"}}, {"target", {{"all", true}}}});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_LT(took, 10s);
  json e = json::parse(r->body, nullptr, false);
  EXPECT_TRUE(e["error"]["message"].is_string());
  // Quorum back: nothing of the refused job was applied after all.
  cluster->restart(1);
  cluster->restart(2);
  ASSERT_TRUE(cluster->wait_healthy(1));
  ASSERT_TRUE(cluster->wait_healthy(2));
  EXPECT_EQ(written(), 0);
  // And the server works again without a restart.
  auto ok = server->submit({{"command", {"true"}}, {"target", {{"all", true}}}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
}

TEST_F(ServerTest, OutputOfAnUnreachableMachineIs503AndOfAnotherMachine404) {
  int64_t lease = join("a", {{"role", "web"}}, "http://127.0.0.1:9");
  join("b", {{"role", "web"}}, "http://127.0.0.1:9");
  auto r = server->submit({{"command", {"true"}}, {"target", {{"machines", {"a"}}}}});
  ASSERT_TRUE(r && r->status == 201);
  std::string id = json::parse(r->body)["id"];
  auto other = server->client().Get("/v1/jobs/" + id + "/runs/b/output");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  ASSERT_TRUE(view->revoke(lease));
  auto gone = server->client().Get("/v1/jobs/" + id + "/runs/a/output");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 503);
  EXPECT_EQ(json::parse(gone->body)["error"]["field"], "machine");
}

// An agent's output route as the server sees it: whole from an offset, or followed (chunked,
// a piece every 50 ms until told to end). Records what it was asked and whether its client left.
class FakeAgent {
 public:
  explicit FakeAgent(std::string token) {
    srv_.Get(R"(/v1/jobs/([0-9a-f]+)/output)", [this, token](const httplib::Request& q,
                                                             httplib::Response& res) {
      if (q.get_header_value("Authorization") != "Bearer " + token) {
        res.status = 401;
        return;
      }
      asked_ = q.path + "?" + q.get_param_value("offset") + "&" + q.get_param_value("follow");
      size_t offset = q.has_param("offset") ? std::stoul(q.get_param_value("offset")) : 0;
      if (q.get_param_value("follow") != "1") {
        res.set_content(text_.substr(std::min(offset, text_.size())), "application/octet-stream");
        return;
      }
      res.set_chunked_content_provider(
          "application/octet-stream",
          [this](size_t, httplib::DataSink& sink) {
            if (ended_) {
              sink.done();
              return true;
            }
            std::string piece = "tick\n";
            if (!sink.write(piece.data(), piece.size())) {
              client_left_ = true;
              return false;
            }
            std::this_thread::sleep_for(50ms);
            return true;
          },
          [this](bool) { stream_over_ = true; });
    });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    // Bound and listening already: connections wait in the backlog until the loop runs.
  }
  ~FakeAgent() {
    ended_ = true;
    srv_.stop();
    thread_.join();
  }
  std::string address() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string text_ = "0123456789";
  std::atomic<bool> ended_{false}, client_left_{false}, stream_over_{false};
  std::string asked_;

 private:
  httplib::Server srv_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(ServerTest, OutputIsRelayedFromTheMachineByOffsetAndFollowed) {
  FakeAgent agent(server->token());
  join("a", {{"role", "web"}}, agent.address());
  auto r = server->submit({{"command", {"true"}}, {"target", {{"machines", {"a"}}}}});
  ASSERT_TRUE(r && r->status == 201);
  std::string id = json::parse(r->body)["id"];
  // Not claimed yet: nothing to show (the agent has no such job yet).
  auto early = server->client().Get("/v1/jobs/" + id + "/runs/a/output");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 200);
  EXPECT_EQ(early->body, "");
  claimed(id, "a");
  auto whole = server->client().Get("/v1/jobs/" + id + "/runs/a/output?offset=4");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, "456789");
  EXPECT_EQ(agent.asked_, "/v1/jobs/" + id + "/output?4&");

  // Followed: pieces arrive while the upstream is still going; the stream ends with it. The
  // upstream ends once two pieces came through (not after a fixed 500 ms: on a loaded machine
  // the relay may take longer to start, and an upstream ended first sends no piece at all).
  std::string got;
  std::atomic<size_t> received{0};
  auto follow_until_ended = std::thread([&] {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (received < 2 * std::string("tick\n").size() &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    agent.ended_ = true;
  });
  auto f = server->client().Get("/v1/jobs/" + id + "/runs/a/output?offset=0&follow=1",
                                [&](const char* data, size_t n) {
                                  got.append(data, n);
                                  received += n;
                                  return true;
                                });
  follow_until_ended.join();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 200);
  EXPECT_GE(got.size(), 2 * std::string("tick\n").size()) << got;
  EXPECT_EQ(got.substr(0, 5), "tick\n");
}

TEST_F(ServerTest, AClientThatHangsUpReleasesTheUpstreamAtOnce) {
  FakeAgent agent(server->token());
  join("a", {{"role", "web"}}, agent.address());
  auto r = server->submit({{"command", {"true"}}, {"target", {{"machines", {"a"}}}}});
  ASSERT_TRUE(r && r->status == 201);
  std::string id = json::parse(r->body)["id"];
  claimed(id, "a");
  size_t pieces = 0;
  auto f = server->client().Get("/v1/jobs/" + id + "/runs/a/output?follow=1",
                                [&](const char*, size_t) { return ++pieces < 3; });
  EXPECT_EQ(pieces, 3u);
  // The upstream notices within a few of its 50 ms writes (the server closed its connection).
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!agent.client_left_ && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(agent.client_left_) << "the upstream stream outlived its client";
}

}  // namespace
}  // namespace tend::test
