// Resource limits of agent jobs, on this host's real cgroups: the request's "limits", the agent's
// defaults and ceilings (--job-memory, --job-pids, --job-cpu), the default process limit against
// a fork bomb, what the record says after an OOM kill, live figures, and every bad value refused
// with 400 and nothing started.
#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "agent_harness.hpp"
#include "require.hpp"

using namespace agent_test;

namespace {

bool is_root() {
  return ::geteuid() == 0;
}

// A v1 hierarchy with `controller` is mounted (this hybrid host), or v2 has it.
bool controller_available(const std::string& controller) {
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream in(line);
    std::string dev, dir, type, opts;
    in >> dev >> dir >> type >> opts;
    if (type == "cgroup" && ("," + opts + ",").find("," + controller + ",") != std::string::npos)
      return true;
  }
  return read_text("/sys/fs/cgroup/unified/cgroup.controllers").find(controller) !=
             std::string::npos ||
         read_text("/sys/fs/cgroup/cgroup.controllers").find(controller) != std::string::npos;
}

#define REQUIRE_LIMITS(controller)                            \
  TEND_REQUIRE(is_root() && controller_available(controller), \
               std::string("root and a ") + controller + " cgroup controller (tend doctor)")

json marked_script(const std::string& script, const std::string& marker, json limits) {
  json j = {{"script", script}, {"env", {{"TEND_TEST_MARKER", marker}}}};
  if (!limits.is_null()) j["limits"] = std::move(limits);
  return j;
}

int job_dirs(const Agent& a) {
  int n = 0;
  DIR* d = ::opendir((a.data() + "/jobs").c_str());
  while (dirent* e = d ? ::readdir(d) : nullptr)
    if (e->d_name[0] != '.') ++n;
  if (d) ::closedir(d);
  return n;
}

double metric(const Agent& a, const std::string& name) {
  auto r = a.client().Get("/metrics");
  if (!r || r->status != 200) return -1;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
  return -1;
}

// systemd's DefaultTasksMax, computed here independently of the library.
uint64_t expected_default_pids() {
  uint64_t threads = std::strtoull(read_text("/proc/sys/kernel/threads-max").c_str(), nullptr, 10);
  uint64_t pid_max = std::strtoull(read_text("/proc/sys/kernel/pid_max").c_str(), nullptr, 10);
  return std::max<uint64_t>(16, std::min(threads, pid_max) * 15 / 100);
}

// Sets environment variables for the agents started in its lifetime (they inherit them).
struct ScopedEnv {
  std::vector<std::string> names;
  ScopedEnv(std::initializer_list<std::pair<std::string, std::string>> vars) {
    for (const auto& [k, v] : vars) {
      ::setenv(k.c_str(), v.c_str(), 1);
      names.push_back(k);
    }
  }
  ~ScopedEnv() {
    for (const auto& k : names) ::unsetenv(k.c_str());
  }
};

}  // namespace

TEST(AgentLimits, BadLimitsAreRefusedNamingTheFieldAndStartNothing) {
  REQUIRE_LIMITS("pids");
  REQUIRE_LIMITS("memory");
  REQUIRE_LIMITS("cpu");
  Agent agent{{"--job-memory", "256M", "--job-pids", "100", "--job-cpu", "1"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  struct Case {
    json limits;
    std::string field;
  };
  std::vector<Case> cases = {
      {"lots", "limits"},
      {{{"memory", -1}}, "limits.memory"},
      {{{"memory", "lots"}}, "limits.memory"},
      {{{"memory", 1.5}}, "limits.memory"},
      {{{"memory", "100"}}, "limits.memory"},  // 100 bytes: below 1 MiB, surely a typo
      {{{"memory", "1G"}}, "limits.memory"},   // above --job-memory
      {{{"memory_high", "lots"}}, "limits.memory_high"},
      {{{"memory", "64M"}, {"memory_high", "128M"}}, "limits.memory_high"},
      {{{"swap", -5}}, "limits.swap"},
      {{{"pids", -5}}, "limits.pids"},
      {{{"pids", 0}}, "limits.pids"},
      {{{"pids", 2.5}}, "limits.pids"},
      {{{"pids", "lots"}}, "limits.pids"},
      {{{"pids", 101}}, "limits.pids"},  // above --job-pids
      {{{"cpu", -1}}, "limits.cpu"},
      {{{"cpu", 0}}, "limits.cpu"},
      {{{"cpu", "lots"}}, "limits.cpu"},
      {{{"cpu", 1.5}}, "limits.cpu"},  // above --job-cpu
      {{{"disk", "1G"}}, "limits.disk"},
  };
  for (const auto& c : cases) {
    auto r = agent.submit({{"command", {"true"}}, {"limits", c.limits}});
    ASSERT_TRUE(r) << c.limits;
    EXPECT_EQ(r->status, 400) << c.limits << " -> " << r->body;
    json err = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(err.is_discarded()) << r->body;
    EXPECT_EQ(err["error"]["field"], c.field) << c.limits << " -> " << r->body;
    EXPECT_FALSE(err["error"]["message"].get<std::string>().empty()) << c.limits;
  }
  auto above = agent.submit({{"command", {"true"}}, {"limits", {{"memory", "1G"}}}});
  ASSERT_TRUE(above);
  EXPECT_NE(above->body.find("--job-memory"), std::string::npos) << above->body;
  EXPECT_EQ(agent.job_count(), 0) << "a refused request was recorded";
  EXPECT_EQ(job_dirs(agent), 0) << "a refused request left a job directory";
}

TEST(AgentLimits, DefaultsAreAppliedAndShownAndLowerRequestsKept) {
  REQUIRE_LIMITS("pids");
  REQUIRE_LIMITS("memory");
  REQUIRE_LIMITS("cpu");
  Agent agent{{"--job-memory", "256M", "--job-pids", "100", "--job-cpu", "1.5"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  json none = agent.wait_final(agent.submit_ok({{"command", {"true"}}}));
  EXPECT_EQ(none["state"], "succeeded") << none;
  EXPECT_EQ(none["limits"], json({{"memory", 256 << 20}, {"pids", 100}, {"cpu", 1.5}})) << none;
  EXPECT_EQ(none["limits_level"], "cgroup1") << none;

  json lower = agent.wait_final(agent.submit_ok(
      {{"command", {"true"}}, {"limits", {{"memory", "64M"}, {"pids", 10}, {"cpu", 0.5}}}}));
  EXPECT_EQ(lower["state"], "succeeded") << lower;
  EXPECT_EQ(lower["limits"], json({{"memory", 64 << 20}, {"pids", 10}, {"cpu", 0.5}})) << lower;
}

TEST(AgentLimits, SubmitFlagsCarryTheLimitsAndBadOnesSendNothing) {
  REQUIRE_LIMITS("pids");
  REQUIRE_LIMITS("memory");
  REQUIRE_LIMITS("cpu");
  Agent agent{{"--job-memory", "256M", "--job-pids", "100", "--job-cpu", "1.5"}};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string out;
  ASSERT_EQ(run_cli(agent, "submit --wait --memory 64M --pids 10 --cpu 0.5 -- true", &out), 0)
      << out;
  auto j = agent.job(out.substr(0, out.find('\n')));
  ASSERT_TRUE(j) << out;
  EXPECT_EQ((*j)["limits"], json({{"memory", 64 << 20}, {"pids", 10}, {"cpu", 0.5}})) << *j;
  // Refused by the client (nothing sent), or by the agent (above its ceiling): 125, one line
  // naming the flag or the field, nothing recorded.
  for (auto [flag, named] :
       {std::pair{"--pids 0", "--pids"}, std::pair{"--pids ten", "--pids"},
        std::pair{"--cpu 0", "--cpu"}, std::pair{"--cpu nan", "--cpu"},
        std::pair{"--memory lots", "--memory"}, std::pair{"--swap 1X", "--swap"},
        std::pair{"--memory 1G", "limits.memory"}}) {
    EXPECT_EQ(run_cli(agent, std::string("submit ") + flag + " -- true 2>&1", &out), 125) << flag;
    EXPECT_NE(out.find(named), std::string::npos) << flag << ": " << out;
  }
  EXPECT_EQ(agent.job_count(), 1) << "a refused submit was recorded";
}

TEST(AgentLimits, WithoutFlagsJobsGetTheDefaultProcessLimitOnly) {
  REQUIRE_LIMITS("pids");
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  json j = agent.wait_final(agent.submit_ok({{"command", {"true"}}}));
  EXPECT_EQ(j["state"], "succeeded") << j;
  EXPECT_EQ(j["limits"], json({{"pids", expected_default_pids()}})) << j;
  // A request above the default is above the ceiling too: one story for every limit.
  auto r =
      agent.submit({{"command", {"true"}}, {"limits", {{"pids", expected_default_pids() + 1}}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;

  Agent unlimited{{"--job-pids", "unlimited"}};
  ASSERT_TRUE(unlimited.start()) << unlimited.last_error();
  json u = unlimited.wait_final(unlimited.submit_ok({{"command", {"true"}}}));
  EXPECT_EQ(u["limits"], json::object()) << u;
  EXPECT_EQ(u["limits_level"], "none") << u;
}

TEST(AgentLimits, BadFlagsStopTheAgentWith125) {
  for (std::vector<std::string> flags : {std::vector<std::string>{"--job-memory", "lots"},
                                         {"--job-memory", "-1"},
                                         {"--job-pids", "0"},
                                         {"--job-pids", "many"},
                                         {"--job-cpu", "0"},
                                         {"--job-cpu", "x"}}) {
    Agent agent{flags};
    EXPECT_FALSE(agent.start(5s)) << flags[0] << " " << flags[1];
    EXPECT_NE(agent.last_error().find(flags[0]), std::string::npos) << agent.last_error();
  }
}

TEST(AgentLimits, OomKilledJobIsRecordedAsOutOfMemory) {
  REQUIRE_LIMITS("memory");
  TEND_REQUIRE(tend::test::command_succeeds("python3 -c pass"), "python3");
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  double before = metric(agent, "tend_jobs_oom_killed_total");
  EXPECT_EQ(before, 0);
  std::string marker = unique_marker();
  json job = marked_script("s = 'x' * (512 * 1024 * 1024)\nprint('survived', len(s))\n", marker,
                           {{"memory", "64M"}});
  job["interpreter"] = "python3";
  job["timeout"] = "60s";
  json j = agent.wait_final(agent.submit_ok(job), 90s);
  EXPECT_EQ(j["state"], "failed") << j;
  EXPECT_EQ(j["signal"], 9) << j;
  EXPECT_EQ(j["exit_status"], 137) << j;
  EXPECT_EQ(j["oom_killed"], true) << j;
  EXPECT_GE(j["oom_kills"].get<int>(), 1) << j;
  EXPECT_NE(j["reason"].get<std::string>().find("out of memory"), std::string::npos) << j;
  EXPECT_NE(j["reason"].get<std::string>().find("64 MiB"), std::string::npos) << j;
  ASSERT_TRUE(j["peak_memory_bytes"].is_number()) << j;
  EXPECT_LE(j["peak_memory_bytes"].get<int64_t>(), 80 << 20) << j;
  EXPECT_EQ(agent.output(j["id"]).find("survived"), std::string::npos);
  EXPECT_EQ(wait_marked_gone(marker), 0);
  EXPECT_EQ(metric(agent, "tend_jobs_oom_killed_total"), before + 1);
}

TEST(AgentLimits, ProcessLimitMakesForksFailAndTheJobEnds) {
  REQUIRE_LIMITS("pids");
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string marker = unique_marker();
  // Starts 500 sleeps where 50 processes are allowed; whether sh stops at the first refused
  // fork or goes on, it then exits, and the job's end kills the sleeps that did start.
  json job = marked_script(
      "i=0; while [ $i -lt 500 ]; do sleep 60 & i=$((i+1)); done; echo looped; exit 0", marker,
      {{"pids", 50}});
  job["timeout"] = "30s";
  auto t0 = Clock::now();
  json j = agent.wait_final(agent.submit_ok(job), 60s);
  EXPECT_LT(Clock::now() - t0, 25s) << "the job did not end by itself";
  EXPECT_TRUE(j["state"] == "succeeded" || j["state"] == "failed") << j;
  ASSERT_TRUE(j["pids_refused"].is_number()) << j;
  EXPECT_GT(j["pids_refused"].get<int>(), 0) << j;
  if (j["peak_processes"].is_number()) {
    EXPECT_LE(j["peak_processes"].get<int>(), 50) << j;
  }
  EXPECT_GT(j["leftovers_killed"].get<int>(), 0) << j;
  EXPECT_NE(agent.output(j["id"]).find("fork"), std::string::npos) << agent.output(j["id"]);
  EXPECT_EQ(wait_marked_gone(marker), 0);
}

TEST(AgentLimits, CpuQuotaBoundsCpuTime) {
  REQUIRE_LIMITS("cpu");
  TEND_REQUIRE(tend::test::command_succeeds("python3 -c pass"), "python3");
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  // A quota far below what a busy loop gets even with the CPUs oversubscribed 4x (about 0.2 of
  // a CPU): at 0.2 itself the loop may never get more than its quota from a loaded machine, is
  // never throttled, and cpu_throttled_ms stays 0.
  json job = marked_script("import time\nt = time.time()\nwhile time.time() - t < 2: pass\n",
                           unique_marker(), {{"cpu", 0.05}});
  job["interpreter"] = "python3";
  json j = agent.wait_final(agent.submit_ok(job), 60s);
  EXPECT_EQ(j["state"], "succeeded") << j;
  int64_t cpu = j["cpu_user_ms"].get<int64_t>() + j["cpu_system_ms"].get<int64_t>();
  // 0.05 CPU for as long as it ran (python's start, throttled too, and the 2 s loop), plus a
  // period's quota at each end; unlimited, it would be 0.2 CPU or more even on a loaded machine.
  ASSERT_TRUE(j["duration_ms"].is_number_integer()) << j;
  EXPECT_LE(cpu, j["duration_ms"].get<int64_t>() / 20 + 50) << j;
  EXPECT_GT(cpu, 25) << j;
  ASSERT_TRUE(j["cpu_throttled_ms"].is_number()) << j;
  EXPECT_GT(j["cpu_throttled_ms"].get<int64_t>(), 0) << j;
}

TEST(AgentLimits, RunningJobShowsItsFiguresNow) {
  REQUIRE_LIMITS("memory");
  // The live figures are read from the job's cgroup, found through its v2 scope: the session
  // level (CI's second pass, TEND_SCOPE=session) has none, and the record says null there.
  if (const char* level = std::getenv("TEND_SCOPE"); level && std::string(level) == "session")
    GTEST_SKIP() << "live figures need the cgroup scope level (TEND_SCOPE=session)";
  TEND_REQUIRE(tend::test::command_succeeds("python3 -c pass"), "python3");
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string marker = unique_marker();
  json job = marked_script(
      "import time\ns = 'x' * (32 << 20)\nt = time.time()\nwhile time.time() - t < 30: pass\n",
      marker, {{"memory", "256M"}});
  job["interpreter"] = "python3";
  std::string id = agent.submit_ok(job);
  json now;
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    auto j = agent.job(id);
    if (j && (*j)["state"] == "running" && j->contains("now")) {
      now = (*j)["now"];
      if (now["memory_bytes"].is_number() && now["memory_bytes"].get<int64_t>() > (30 << 20) &&
          now["cpu_user_ms"].get<int64_t>() > 100)
        break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(now.is_object()) << "never seen running";
  EXPECT_GT(now["memory_bytes"].get<int64_t>(), 30 << 20) << now;
  EXPECT_LT(now["memory_bytes"].get<int64_t>(), 256 << 20) << now;
  EXPECT_GE(now["processes"].get<int64_t>(), 1) << now;
  EXPECT_GT(now["cpu_user_ms"].get<int64_t>(), 100) << now;
  auto c = agent.client().Post("/v1/jobs/" + id + "/cancel", "", "application/json");
  ASSERT_TRUE(c);
  json done = agent.wait_final(id);
  EXPECT_EQ(done["state"], "cancelled") << done;
  EXPECT_FALSE(done.contains("now")) << done;
  EXPECT_EQ(wait_marked_gone(marker), 0);
}

TEST(AgentLimits, ForkBombEndsWithTheDefaultProcessLimitAndTheAgentAnswers) {
  REQUIRE_LIMITS("pids");
  Agent agent;
  ASSERT_TRUE(agent.start()) << agent.last_error();
  std::string marker = unique_marker();
  json job = marked_script("bomb() { bomb | bomb & }; bomb; sleep 60", marker, nullptr);
  // Short: a fork bomb keeps every CPU of this shared machine busy while it lasts.
  job["timeout"] = "2s";
  job["kill_after"] = "500ms";
  std::string id = agent.submit_ok(job);
  // While it rages: the agent answers, and the job stays within its limit.
  std::this_thread::sleep_for(1500ms);
  auto t0 = Clock::now();
  auto health = agent.client().Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(Clock::now() - t0, 5s) << "the agent was slow to answer during the fork bomb";
  if (auto j = agent.job(id); j && j->contains("now") && (*j)["now"]["processes"].is_number()) {
    EXPECT_LE((*j)["now"]["processes"].get<uint64_t>(), expected_default_pids()) << *j;
  }

  // The stop policy's SIGTERM sweeps never converge on a fork bomb (every freed slot is
  // refilled); they give up, and the grace's cgroup.kill ends it.
  // Bound generous: with no CPU limit the bomb's ~5,000 runnable processes starve the shim's
  // timers on a loaded machine (30 s seen beside another test); unbounded sweeps took minutes.
  json j = agent.wait_final(id, 120s);
  EXPECT_LT(Clock::now() - t0, 90s) << "the fork bomb outlived its timeout by far";
  EXPECT_EQ(j["state"], "timed_out") << j;
  EXPECT_EQ(j["limits"], json({{"pids", expected_default_pids()}})) << j;
  ASSERT_TRUE(j["pids_refused"].is_number()) << j;
  EXPECT_GT(j["pids_refused"].get<int64_t>(), 0) << j;
  EXPECT_EQ(wait_marked_gone(marker, 20s), 0);
  EXPECT_EQ(agent.wait_final(agent.submit_ok({{"command", {"true"}}}))["state"], "succeeded");
}

TEST(AgentLimits, LimitsAHostCannotEnforceAreRefused) {
  REQUIRE_LIMITS("memory");
  // A stand-in for /sys/fs/cgroup with the memory hierarchy only: no pids, no cpu.
  std::string root = make_temp_dir();
  ASSERT_EQ(::symlink("/sys/fs/cgroup/memory", (root + "/memory").c_str()), 0);
  ScopedEnv env{{"TEND_CGROUP_V1_ROOT", root}, {"TEND_LIMITS", "cgroup1"}};
  {
    Agent agent;
    ASSERT_TRUE(agent.start()) << agent.last_error();
    EXPECT_NE(read_text(agent.data() + "/agent.log").find("no default process limit"),
              std::string::npos)
        << read_text(agent.data() + "/agent.log");
    for (auto [limits, field] : {std::pair{json{{"pids", 10}}, "limits.pids"},
                                 std::pair{json{{"cpu", 0.5}}, "limits.cpu"}}) {
      auto r = agent.submit({{"command", {"true"}}, {"limits", limits}});
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 400) << r->body;
      EXPECT_EQ(json::parse(r->body)["error"]["field"], field) << r->body;
      EXPECT_NE(r->body.find("cannot limit"), std::string::npos) << r->body;
    }
    EXPECT_EQ(agent.job_count(), 0);
    EXPECT_EQ(job_dirs(agent), 0);
    // What it can enforce still runs.
    json j =
        agent.wait_final(agent.submit_ok({{"command", {"true"}}, {"limits", {{"memory", "64M"}}}}));
    EXPECT_EQ(j["state"], "succeeded") << j;
    EXPECT_EQ(j["limits"], json({{"memory", 64 << 20}})) << j;
  }
  Agent strict{{"--job-pids", "100"}};
  EXPECT_FALSE(strict.start(5s));
  EXPECT_NE(strict.last_error().find("--job-pids"), std::string::npos) << strict.last_error();
  std::filesystem::remove_all(root);
}

TEST(AgentLimits, ADatabaseFromBeforeLimitsGetsTheNewColumns) {
  TEND_REQUIRE(tend::test::command_succeeds("command -v sqlite3"), "the sqlite3 tool");
  std::string data = make_temp_dir();
  ASSERT_EQ(::mkdir((data + "/jobs").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((data + "/jobs/0123456789abcdef").c_str(), 0700), 0);
  // The jobs table as agents before limits made it, with one finished job.
  std::string sql =
      "CREATE TABLE jobs(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, state "
      "TEXT NOT NULL, request TEXT NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER, "
      "finished_ms INTEGER, exit_code INTEGER, signal INTEGER, exit_status INTEGER, error TEXT, "
      "duration_ms INTEGER, cpu_user_ms INTEGER, cpu_system_ms INTEGER, peak_memory_bytes "
      "INTEGER, output_bytes INTEGER NOT NULL DEFAULT 0, output_dropped_bytes INTEGER NOT NULL "
      "DEFAULT 0, leftovers_killed INTEGER NOT NULL DEFAULT 0, shim_pid INTEGER, "
      "cancel_requested INTEGER NOT NULL DEFAULT 0); INSERT INTO jobs(id, state, request, "
      "created_ms, finished_ms, exit_code, exit_status) VALUES('0123456789abcdef', 'succeeded', "
      "'{\"command\":[\"true\"]}', NOW, NOW, 0, 0);";
  // Finished now: retention (--keep-for 30d) would remove an older one at start.
  std::string now = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  for (size_t at; (at = sql.find("NOW")) != std::string::npos;) sql.replace(at, 3, now);
  std::ofstream(data + "/old.sql") << sql;
  ASSERT_TRUE(tend::test::command_succeeds("sqlite3 " + data + "/agent.db < " + data + "/old.sql"));
  Agent agent{{}, data};
  ASSERT_TRUE(agent.start()) << agent.last_error();
  auto old = agent.job("0123456789abcdef");
  ASSERT_TRUE(old);
  EXPECT_EQ((*old)["state"], "succeeded") << *old;
  EXPECT_EQ((*old)["oom_killed"], false) << *old;
  EXPECT_TRUE((*old)["reason"].is_null()) << *old;
  json j = agent.wait_final(agent.submit_ok({{"command", {"true"}}}));
  EXPECT_EQ(j["state"], "succeeded") << j;
  EXPECT_EQ(j["reason"], "exited with 0") << j;
  agent.stop(SIGTERM);
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(data);
}
