// The fleet on a secured etcd: client TLS (certificates made by the test with openssl; etcd with
// --client-cert-auth), etcd auth (a user whose role covers the fleet's prefix, its password in a
// file) and the expiry of etcd's auth tokens. Real 3-member clusters, real agents and servers.
// Without etcd or openssl the tests skip loudly, and fail under CI=true.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "etcd/codec.hpp"
#include "etcd/watch.hpp"
#include "fleet_agents.hpp"
#include "fleet_fixture.hpp"
#include "server_harness.hpp"
#include "test_certs.hpp"

namespace tend::test {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void skip_or_fail_without(const std::string& why) {
  if (why.empty()) return;
  if (in_ci()) FAIL() << "CI=true and the fleet's TLS tests cannot run: " << why;
  GTEST_SKIP() << "LOUD SKIP: " << why;
}

json finished(FleetServer& server, const std::string& id, std::chrono::milliseconds limit = 60s) {
  return wait_job_final(server, id, limit);
}

// Submits `echo hello $TEND_MACHINE` to machines a and b and checks both runs and their output.
void runs_on_both(FleetServer& server) {
  json body = {{"command", {"sh", "-c", "echo hello $TEND_MACHINE"}},
               {"target", {{"machines", {"a", "b"}}}}};
  auto r = server.submit(body);
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer") << "\n" << server.log();
  std::string id = json::parse(r->body).value("id", "");
  json job = finished(server, id);
  ASSERT_EQ(job.value("state", ""), "succeeded") << job.dump() << "\n" << server.log();
  ASSERT_EQ(job["runs"].size(), 2u);
  for (const char* m : {"a", "b"}) {
    auto out = server.client().Get("/v1/jobs/" + id + "/runs/" + m + "/output");
    ASSERT_TRUE(out);
    EXPECT_EQ(out->status, 200);
    EXPECT_EQ(out->body, std::string("hello ") + m + "\n");
  }
}

// Runs `tend ARGS…` to its end: exit status and what it wrote (stdout and stderr).
std::pair<int, std::string> run_tend(const std::vector<std::string>& args, const std::string& dir) {
  Command cmd({TEND_BINARY});
  for (const auto& a : args) cmd.arg(a);
  std::string out = dir + "/out";
  std::ofstream(out).close();  // empty; both streams append to it
  cmd.stdin_(Stdio::null()).stdout_(Stdio::file(out, true)).stderr_(Stdio::file(out, true));
  auto child = spawn(cmd);
  if (!child) return {-1, child.error().message()};
  auto st = child->wait();
  return {st ? st->shell_code() : -1, read_text(out)};
}

// Both faces refuse every bad etcd flag the same way: 125, one line naming the flag, nothing
// made (the agent's data directory does not appear).
TEST(FleetEtcdFlags, BothFacesRefuseBadEtcdFlagsWith125AndOneLine) {
  std::string dir = temp_dir("etcd-flags");
  std::string token = write_token(dir, "t");
  std::string pw = dir + "/pw";
  std::ofstream(pw) << "secret\n";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--etcd", "https://127.0.0.1:1", "--etcd-cacert", dir + "/nope.pem"}, "--etcd-cacert"},
      {{"--etcd", "https://127.0.0.1:1", "--etcd-cert", pw}, "--etcd-cert needs --etcd-key"},
      {{"--etcd", "https://127.0.0.1:1,http://127.0.0.1:2"}, "mixed"},
      {{"--etcd", "http://127.0.0.1:1", "--etcd-cacert", pw}, "need https://"},
      {{"--etcd", "http://127.0.0.1:1", "--etcd-user", "u"}, "--etcd-password-file"},
      {{"--etcd", "http://127.0.0.1:1", "--etcd-user", "u", "--etcd-password-file", dir + "/no"},
       "--etcd-password-file"},
  };
  for (const auto& [flags, says] : cases) {
    std::vector<std::string> agent = {
        "agent", "--data", dir + "/agent-data", "--token-file", token, "--name", "a"};
    std::vector<std::string> server = {"server", "--token-file", token};
    agent.insert(agent.end(), flags.begin(), flags.end());
    server.insert(server.end(), flags.begin(), flags.end());
    for (const auto& args : {agent, server}) {
      auto [code, out] = run_tend(args, dir);
      EXPECT_EQ(code, 125) << args[0] << " " << flags.back() << ": " << out;
      EXPECT_TRUE(contains(out, says)) << args[0] << ": " << out;
      EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    }
    EXPECT_FALSE(std::filesystem::exists(dir + "/agent-data")) << flags.back();
  }
  // The TLS and auth flags need --etcd on the agent (alone, it is not in a fleet).
  auto [code, out] = run_tend(
      {"agent", "--data", dir + "/agent-data", "--token-file", token, "--etcd-user", "u"}, dir);
  EXPECT_EQ(code, 125) << out;
  EXPECT_TRUE(contains(out, "need --etcd")) << out;
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

class FleetTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    skip_or_fail_without(EtcdCluster::missing());
    if (IsSkipped() || HasFatalFailure()) return;
    skip_or_fail_without(TestCerts::missing());
    if (IsSkipped() || HasFatalFailure()) return;
    dir = temp_dir("fleet-tls");
    certs.emplace(dir);
    ASSERT_TRUE(certs->ok()) << certs->error();
    EtcdClusterOptions o;
    o.tls = EtcdTls{certs->ca, certs->server_cert, certs->server_key, certs->client_cert,
                    certs->client_key};
    cluster.emplace(3, o);
    ASSERT_TRUE(cluster->ok()) << cluster->error();
    agents.emplace(cluster->endpoints());
  }
  void TearDown() override {
    agents.reset();
    cluster.reset();
    if (!dir.empty() && !HasFailure()) std::filesystem::remove_all(dir);
  }
  std::vector<std::string> tls_flags(const std::string& ca) const {
    return {"--etcd-cacert",    ca,           "--etcd-cert",
            certs->client_cert, "--etcd-key", certs->client_key};
  }

  std::string dir;
  std::optional<TestCerts> certs;
  std::optional<EtcdCluster> cluster;
  std::optional<FleetAgents> agents;
};

TEST_F(FleetTlsTest, TwoAgentsAndAServerRunAJobOverTls) {
  for (const char* name : {"a", "b"}) {
    int i =
        agents->add({name, name[0] == 'a' ? "127.0.0.11" : "127.0.0.12", {}, tls_flags(certs->ca)});
    ASSERT_TRUE(agents->start(i)) << agents->why();
    EXPECT_TRUE(contains(agents->log(i), "over TLS (CA " + certs->ca)) << agents->log(i);
  }
  FleetServer server(cluster->endpoints(), agents->token_file());
  ASSERT_TRUE(server.start(20s, tls_flags(certs->ca))) << server.error();
  EXPECT_TRUE(contains(server.log(), "over TLS (CA " + certs->ca)) << server.log();
  ASSERT_TRUE(eventually(
      [&] {
        json m = server.get("/v1/machines");
        return m["machines"].size() == 2u && m["machines"][0]["state"] == "online" &&
               m["machines"][1]["state"] == "online";
      },
      20s));
  runs_on_both(server);
}

TEST_F(FleetTlsTest, AWrongCaIsAClearErrorWithinABoundNotAHang) {
  int i = agents->add({"a", "127.0.0.11", {}, tls_flags(certs->other_ca)});
  auto t0 = std::chrono::steady_clock::now();
  auto code = agents->run_to_exit(i, 60s);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(code.has_value()) << "the agent did not exit: " << agents->log(i);
  EXPECT_EQ(*code, 125);
  EXPECT_LT(took, 40s);  // registration gives up after ~12 s
  std::string log = agents->log(i);
  EXPECT_TRUE(contains(log, "cannot register in the fleet")) << log;
  EXPECT_TRUE(contains(log, "certificate is not trusted")) << log;

  FleetServer server(cluster->endpoints(), agents->token_file());
  std::vector<std::string> flags = tls_flags(certs->other_ca);
  flags.insert(flags.end(), {"--etcd-wait", "3s"});
  t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(server.start(60s, flags));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  EXPECT_TRUE(contains(server.log(), "did not answer within 3 s")) << server.log();
  EXPECT_TRUE(contains(server.log(), "certificate is not trusted")) << server.log();
}

// What made CI fail once: under load, the member tried last did not finish its handshake in
// time, and its "no answer in time" hid the refused certificate, the cause to fix. Here the
// order is made certain: a member with a certificate not trusted, then an address that accepts
// connections and never answers. Both a rotating call and a one-member status say the cause.
// One round only: each attempt (its handshake included) may use all that is left of the call, so
// the refusal comes whatever the load, and the silent address then holds the call to its end.
// With 500 ms attempts the call went round several times: a handshake cut at 500 ms on a loaded
// machine said no refusal at all, and a refusal ending less than 1 ms before the deadline left
// the silent address no attempt, so the refusal alone was the last failure.
TEST_F(FleetTlsTest, ARefusedCertificateIsStillSaidWhenASilentMemberWasTriedLast) {
  int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(silent, 16), 0);  // the kernel completes connects; nobody reads
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string silent_url = "https://127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  auto other = http::make_client_tls({certs->other_ca, certs->client_cert, certs->client_key});
  ASSERT_TRUE(other) << other.error().message();
  etcd::ClientOptions o;
  o.tls = *other;
  o.attempt_timeout = 60s;  // longer than any call here: each attempt gets all that is left
  o.connect_timeout = 60s;
  etcd::Counters counters;
  auto errors = http::run_blocking<std::pair<std::string, std::string>>(
      [&](boost::asio::any_io_executor ex)
          -> boost::asio::awaitable<std::pair<std::string, std::string>> {
        auto urls = etcd::parse_endpoints(cluster->endpoint(0) + "," + silent_url);
        etcd::Client c(ex, *urls, o);
        auto grant = co_await c.lease_grant(10, 5s);
        auto st = co_await c.status_of(1, 1s);
        counters = c.counters();
        co_return std::pair{grant ? std::string() : grant.error().message,
                            st ? std::string() : st.error().message};
      });
  ::close(silent);
  EXPECT_EQ(counters.attempts, 3u) << "not one round: the refusal, the silence, then the status";
  for (const std::string& why : {errors.first, errors.second}) {
    EXPECT_TRUE(contains(why, "no answer in time")) << why;  // the silent member was last
    EXPECT_TRUE(contains(why, "certificate is not trusted")) << why;
  }
}

// The certificate names 127.0.0.1 only: reached as "localhost" (the same address), the right CA
// is not enough.
TEST_F(FleetTlsTest, TheServersNameIsVerifiedNotOnlyItsCa) {
  std::string ip_url = cluster->endpoint(0);
  std::string name_url = "https://localhost" + ip_url.substr(ip_url.rfind(':'));
  // "" when the member answered, else why not. The handshake may take the whole 5 s (the
  // client's default is 1 s): on a loaded machine a slow one would say "no answer in time"
  // instead of its verdict.
  etcd::ClientOptions o = cluster->client_options();
  o.connect_timeout = 5s;
  auto refusal = [&](const std::string& url) {
    return http::run_blocking<std::string>(
        [&](boost::asio::any_io_executor ex) -> boost::asio::awaitable<std::string> {
          auto urls = etcd::parse_endpoints(url);
          etcd::Client c(ex, *urls, o);
          auto st = co_await c.status_of(0, 5s);
          co_return st ? std::string() : st.error().message;
        });
  };
  EXPECT_EQ(refusal(ip_url), "");
  std::string why = refusal(name_url);
  EXPECT_TRUE(contains(why, "hostname mismatch")) << why;
}

TEST_F(FleetTlsTest, WithoutAClientCertificateEtcdRefusesTheAgent) {
  int i = agents->add({"a", "127.0.0.11", {}, {"--etcd-cacert", certs->ca}});
  auto code = agents->run_to_exit(i, 60s);
  ASSERT_TRUE(code.has_value()) << "the agent did not exit: " << agents->log(i);
  EXPECT_EQ(*code, 125);
  EXPECT_TRUE(contains(agents->log(i), "cannot register in the fleet")) << agents->log(i);
}

// etcd auth: root, and a user "fleet" whose role may read and write the fleet's prefix only.
class FleetAuthTest : public FleetTest {
 protected:
  void SetUp() override {
    if (auto why = EtcdCluster::missing(); !why.empty()) skip_or_fail_without(why);
    if (IsSkipped() || HasFatalFailure()) return;
    // Simple tokens lapse after 2 s unused (etcd 3.4's --auth-token-ttl, in seconds).
    cluster.emplace(3, EtcdClusterOptions{{}, {"--auth-token-ttl", "2"}});
    ASSERT_TRUE(cluster->ok()) << cluster->error();
    EtcdView root(cluster->endpoints());
    const std::string from = etcd::codec::base64_encode("/tend/");
    const std::string to = etcd::codec::base64_encode(etcd::prefix_end("/tend/"));
    ASSERT_TRUE(root.post("/v3/auth/user/add", {{"name", "root"}, {"password", "root-pw"}}));
    ASSERT_TRUE(root.post("/v3/auth/user/grant", {{"user", "root"}, {"role", "root"}}));
    ASSERT_TRUE(root.post("/v3/auth/role/add", {{"name", "fleet"}}));
    ASSERT_TRUE(
        root.post("/v3/auth/role/grant",
                  {{"name", "fleet"},
                   {"perm", {{"permType", "READWRITE"}, {"key", from}, {"range_end", to}}}}));
    ASSERT_TRUE(root.post("/v3/auth/user/add", {{"name", "fleet"}, {"password", "fleet pw"}}));
    ASSERT_TRUE(root.post("/v3/auth/user/grant", {{"user", "fleet"}, {"role", "fleet"}}));
    ASSERT_TRUE(root.post("/v3/auth/enable", json::object()));
    agents.emplace(cluster->endpoints());
    good = agents->dir() + "/etcd-password";
    bad = agents->dir() + "/wrong-password";
    std::ofstream(good) << "fleet pw\n";
    std::ofstream(bad) << "not it\n";
  }
  void TearDown() override {
    agents.reset();
    FleetTest::TearDown();
  }
  static std::vector<std::string> auth_flags(const std::string& file) {
    return {"--etcd-user", "fleet", "--etcd-password-file", file};
  }

  std::optional<FleetAgents> agents;
  std::string good, bad;
};

TEST_F(FleetAuthTest, TheFleetWorksWithAPasswordFileAndAJobAfterTheTokenExpiredStillRuns) {
  for (const char* name : {"a", "b"}) {
    int i = agents->add({name, name[0] == 'a' ? "127.0.0.11" : "127.0.0.12", {}, auth_flags(good)});
    ASSERT_TRUE(agents->start(i)) << agents->why();
    EXPECT_TRUE(contains(agents->log(i), "over plain HTTP, user fleet")) << agents->log(i);
  }
  FleetServer server(cluster->endpoints(), agents->token_file());
  ASSERT_TRUE(server.start(20s, auth_flags(good))) << server.error();
  ASSERT_TRUE(eventually(
      [&] {
        json m = server.get("/v1/machines");
        return m["machines"].size() == 2u && m["machines"][1]["state"] == "online";
      },
      20s));
  runs_on_both(server);
  long long before = server.metric("tend_etcd_authentications_total");
  EXPECT_GE(before, 1);
  // Nothing uses the tokens for longer than their TTL: every member forgets them.
  std::this_thread::sleep_for(5s);
  runs_on_both(server);
  long long after = server.metric("tend_etcd_authentications_total");
  double agent_a = agents->metric(0, "tend_fleet_etcd_authentications_total");
  EXPECT_GT(after, before) << "the server never renewed its token: the expiry was not exercised";
  EXPECT_GE(agent_a, 2) << "agent a never renewed its token";
  std::printf("[ figures ] server authentications %lld then %lld, agent a %g\n", before, after,
              agent_a);
}

// etcd 3.4 cancels a watch created with an expired token (its reason only in words): the client
// reopens it once with a fresh token, and the watch delivers.
TEST_F(FleetAuthTest, AWatchOpenedWithAnExpiredTokenIsReopenedWithAFreshOne) {
  etcd::ClientOptions o;
  o.credentials = etcd::Credentials{"fleet", "fleet pw"};
  auto c = client(0, o);
  run([&]() -> asio::awaitable<void> {
    etcd::PutRequest p{"/tend/w", "1"};
    auto put = co_await c->put(p);
    CO_ASSERT_TRUE(put.ok());
    co_await sleep_for(4s);  // unused for twice the TTL: every member has forgotten the token
    const uint64_t before = c->counters().authenticate;
    etcd::WatchOptions w;
    w.key = "/tend/w";
    w.start_revision = put->header.revision;
    std::string seen;
    std::function<bool(const etcd::WatchUpdate&)> on = [&](const etcd::WatchUpdate& u) {
      for (const auto& e : u.events) seen += e.kv.value;
      return seen.empty();
    };
    auto r = co_await etcd::watch(*c, std::move(w), std::move(on));
    EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
    EXPECT_EQ(seen, "1");
    EXPECT_EQ(c->counters().authenticate, before + 1);
  });
}

TEST_F(FleetAuthTest, AWrongPasswordIsRefusedAtOnceWithAClearError) {
  int i = agents->add({"a", "127.0.0.11", {}, auth_flags(bad)});
  auto t0 = std::chrono::steady_clock::now();
  auto code = agents->run_to_exit(i, 60s);
  ASSERT_TRUE(code.has_value()) << "the agent did not exit: " << agents->log(i);
  EXPECT_EQ(*code, 125);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  std::string log = agents->log(i);
  // Refused at the first answer, not after the 12 s registration wait: it will not mend.
  EXPECT_TRUE(contains(log, "refused this agent")) << log;
  EXPECT_FALSE(contains(log, "did not answer in time")) << log;
  EXPECT_TRUE(contains(log, "cannot authenticate as user \"fleet\"")) << log;
  EXPECT_TRUE(contains(log, "invalid user ID or password")) << log;

  FleetServer server(cluster->endpoints(), agents->token_file());
  EXPECT_FALSE(server.start(30s, auth_flags(bad)));
  EXPECT_TRUE(contains(server.log(), "cannot authenticate as user \"fleet\"")) << server.log();
  // Without any user, etcd says so (its words: "user name is empty") and nothing is written: the
  // server's first read at start (the agents' TTLs) fails; were it to start, no job could be.
  FleetServer anonymous(cluster->endpoints(), agents->token_file());
  if (!anonymous.start(20s)) {
    EXPECT_TRUE(contains(anonymous.log(), "user name is empty")) << anonymous.log();
  } else {
    auto r = anonymous.submit({{"command", {"true"}}, {"target", {{"all", true}}}});
    ASSERT_TRUE(r);
    EXPECT_NE(r->status, 201) << r->body;
  }
}

}  // namespace
}  // namespace tend::test
