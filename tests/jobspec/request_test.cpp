// parse_job_request: the pure validation of POST /v1/jobs bodies (an agent's and a server's).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "jobspec/job_request.hpp"

using tend::parse_job_request;

namespace {

// The field a bad body is refused for ("" if it was accepted).
std::string refused_field(const std::string& body) {
  auto r = parse_job_request(body);
  if (r) return "";
  EXPECT_FALSE(r.error().detail.empty()) << body;
  return r.error().stage;
}

}  // namespace

TEST(JobRequest, AcceptsACommandWithEveryOption) {
  auto r =
      parse_job_request(R"({"command":["echo","hi"],"env":{"A":"1"},"cwd":"/tmp","timeout":"30s",
    "kill_after":2.5,"user":"root","stdin":"in","labels":{"team":"x"}})");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->command, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_EQ(r->timeout, std::chrono::milliseconds(30'000));
  EXPECT_EQ(r->kill_after, std::chrono::milliseconds(2'500));
  EXPECT_EQ(r->env.at("A"), "1");
  EXPECT_EQ(r->labels.at("team"), "x");
  EXPECT_EQ(*r->stdin_text, "in");
}

TEST(JobRequest, ScriptDefaultsToSh) {
  auto r = parse_job_request(R"({"script":"echo hi"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->interpreter, "sh");
  EXPECT_EQ(tend::job_argv(*r, "/x/script"),
            (std::vector<std::string>{"/bin/sh", "/x/script"}));
}

TEST(JobRequest, RefusesBadBodiesNamingTheField) {
  EXPECT_EQ(refused_field("{"), "body");
  EXPECT_EQ(refused_field("[]"), "body");
  EXPECT_EQ(refused_field("{}"), "command");
  EXPECT_EQ(refused_field(R"({"command":["a"],"script":"b"})"), "command");
  EXPECT_EQ(refused_field(R"({"command":[]})"), "command");
  EXPECT_EQ(refused_field(R"({"command":"ls"})"), "command");
  EXPECT_EQ(refused_field(R"({"command":[1]})"), "command");
  EXPECT_EQ(refused_field(R"({"command":[""]})"), "command");
  EXPECT_EQ(refused_field(R"({"script":"x","interpreter":"perl"})"), "interpreter");
  EXPECT_EQ(refused_field(R"({"command":["a"],"interpreter":"sh"})"), "interpreter");
  EXPECT_EQ(refused_field(R"({"command":["a"],"timeout":"soon"})"), "timeout");
  EXPECT_EQ(refused_field(R"({"command":["a"],"timeout":-1})"), "timeout");
  EXPECT_EQ(refused_field(R"({"command":["a"],"timeout":"-5s"})"), "timeout");
  EXPECT_EQ(refused_field(R"({"command":["a"],"timeout":1e300})"), "timeout");
  EXPECT_EQ(refused_field(R"({"command":["a"],"kill_after":true})"), "kill_after");
  EXPECT_EQ(refused_field(R"({"command":["a"],"env":{"A=B":"1"}})"), "env");
  EXPECT_EQ(refused_field(R"({"command":["a"],"env":{"A":1}})"), "env");
  EXPECT_EQ(refused_field(R"({"command":["a"],"labels":{"a:b":"1"}})"), "labels");
  EXPECT_EQ(refused_field(R"({"command":["a"],"cwd":""})"), "cwd");
  EXPECT_EQ(refused_field(R"({"command":["a"],"user":5})"), "user");
  EXPECT_EQ(refused_field(R"({"command":["a"],"stdin":[]})"), "stdin");
  EXPECT_EQ(refused_field(R"({"command":["a"],"colour":"red"})"), "colour");
  EXPECT_EQ(refused_field(R"({"command":["a"],"":1})"), "body");  // found by the fuzzer
}

TEST(JobRequest, RoundTripsThroughItsStoredForm) {
  auto r = parse_job_request(R"J({"script":"print(1)","interpreter":"python3","timeout":"1.5s",
    "kill_after":"250ms","env":{"K":"V"},"labels":{"a":"b"}})J");
  ASSERT_TRUE(r);
  auto again = tend::request_from_json(tend::to_json(*r));
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(tend::to_json(*again), tend::to_json(*r));
  EXPECT_EQ(again->timeout, std::chrono::milliseconds(1500));
}

TEST(JobRequest, HostChecksFindMissingDirectoriesAndUsers) {
  auto r = parse_job_request(R"({"command":["a"],"cwd":"/nonexistent/dir"})");
  ASSERT_TRUE(r);
  auto c = tend::check_on_host(*r);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().stage, "cwd");
  r = parse_job_request(R"({"command":["a"],"user":"no-such-user-tend"})");
  ASSERT_TRUE(r);
  c = tend::check_on_host(*r);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().stage, "user");
}

TEST(JobRequest, LimitsTakeSizesAsTextOrBytesAndRoundTrip) {
  auto r = parse_job_request(
      R"({"command":["a"],"limits":{"memory":"256M","memory_high":"200M","swap":0,"pids":100,"cpu":1.5}})");
  ASSERT_TRUE(r) << r.error().stage << ": " << r.error().detail;
  EXPECT_EQ(r->limits.memory_max, 256ull << 20);
  EXPECT_EQ(r->limits.memory_high, 200ull << 20);
  EXPECT_EQ(r->limits.swap_max, 0u);
  EXPECT_EQ(r->limits.pids_max, 100u);
  EXPECT_EQ(r->limits.cpus, 1.5);
  nlohmann::json j = tend::to_json(*r);
  EXPECT_EQ(j["limits"], nlohmann::json({{"memory", 256ull << 20},
                                         {"memory_high", 200ull << 20},
                                         {"swap", 0},
                                         {"pids", 100},
                                         {"cpu", 1.5}}));
  auto back = tend::request_from_json(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->limits.memory_max, r->limits.memory_max);
  EXPECT_EQ(back->limits.cpus, r->limits.cpus);
  // No limits: an empty object, and none set.
  auto none = parse_job_request(R"({"command":["a"]})");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->limits.any());
  EXPECT_EQ(tend::to_json(*none)["limits"], nlohmann::json::object());
}

TEST(JobRequest, BadLimitsNameTheirField) {
  for (auto [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"command":["a"],"limits":[]})", "limits"},
           {R"({"command":["a"],"limits":{"memory":-1}})", "limits.memory"},
           {R"({"command":["a"],"limits":{"memory":"lots"}})", "limits.memory"},
           {R"({"command":["a"],"limits":{"memory":true}})", "limits.memory"},
           {R"({"command":["a"],"limits":{"memory":1024}})", "limits.memory"},
           {R"({"command":["a"],"limits":{"memory":"64M","memory_high":"1G"}})",
            "limits.memory_high"},
           {R"({"command":["a"],"limits":{"swap":"x"}})", "limits.swap"},
           {R"({"command":["a"],"limits":{"pids":0}})", "limits.pids"},
           {R"({"command":["a"],"limits":{"pids":-3}})", "limits.pids"},
           {R"({"command":["a"],"limits":{"pids":"10"}})", "limits.pids"},
           {R"({"command":["a"],"limits":{"cpu":0}})", "limits.cpu"},
           {R"({"command":["a"],"limits":{"cpu":0.001}})", "limits.cpu"},
           {R"({"command":["a"],"limits":{"cpu":"1"}})", "limits.cpu"},
           {R"({"command":["a"],"limits":{"Memory":"1G"}})", "limits.Memory"},
       })
    EXPECT_EQ(refused_field(body), field) << body;
}
