// Resource limits through `tend run`: memory (OOM kill said plainly), processes, CPU, and a
// clean refusal where a controller is missing. On this hybrid host they go through cgroup v1;
// the v2 path runs in a pure-v2 kernel under qemu (label `vm`, tests/vm).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace scenario {
namespace {

using namespace std::chrono_literals;

// The last JSON object in tend's output (--json - writes it to stderr, merged here).
nlohmann::json result_json(const std::string& out) {
  size_t start = out.rfind("\n{");
  start = start == std::string::npos ? (out.rfind('{', 0) == 0 ? 0 : out.npos) : start + 1;
  if (start == std::string::npos) return {};
  size_t end = out.find('\n', start);
  return nlohmann::json::parse(out.substr(start, end == out.npos ? out.npos : end - start), nullptr,
                               false);
}

// Does `tend doctor --json` say `controller` can be limited here?
bool limit_available(const std::string& controller) {
  RunResult r = run_tend({"doctor", "--json"}, unique_marker());
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  if (!j.is_object() || !j.contains("limits")) return false;
  for (const auto& c : j["limits"])
    if (c.value("controller", "") == controller) return c.value("level", "none") != "none";
  return false;
}

// The job's cgroup name from `-v` ("tend: scope: cgroup /sys/.../tend-1-2-abc (strong...").
std::string job_cgroup_name(const std::string& out) {
  auto at = out.find("scope: cgroup ");
  if (at == std::string::npos) return {};
  auto end = out.find(' ', at + 14);
  std::string path = out.substr(at + 14, end - at - 14);
  return path.substr(path.rfind('/') + 1);
}

// Any directory named `name` below `root` (a v1 hierarchy), a few levels deep.
bool dir_named_exists(const std::string& root, const std::string& name, int depth = 4) {
  DIR* d = ::opendir(root.c_str());
  if (!d) return false;
  bool found = false;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    if (name == e->d_name) found = true;
    if (!found && depth > 0) found = dir_named_exists(root + "/" + e->d_name, name, depth - 1);
    if (found) break;
  }
  ::closedir(d);
  return found;
}

class Limits : public ::testing::Test {
 protected:
  void TearDown() override { kill_marked(marker_); }
  std::string marker_ = unique_marker();
};

TEST_F(Limits, MemoryLimitKillsForMemoryAndSaysSo) {
  TEND_REQUIRE(limit_available("memory"), "no memory controller (tend doctor: limits)");
  TEND_REQUIRE(::access("/usr/bin/python3", X_OK) == 0, "no /usr/bin/python3");
  // 512 MiB written for real (a zero-filled allocation would not be charged).
  RunResult r = run_tend({"run", "-v", "--json", "-", "--memory", "64M", "--", "python3", "-c",
                          "b = b'x' * (512 << 20); print('survived')"},
                         marker_, {}, 60s);
  ASSERT_TRUE(r.finished) << r.output;
  EXPECT_EQ(r.exit_code, 137) << r.output;
  EXPECT_EQ(r.output.find("survived"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("out of memory (limit 64 MiB)"), std::string::npos) << r.output;
  auto j = result_json(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["oom_killed"], true);
  EXPECT_GE(j["oom_kills"].get<int>(), 1);
  EXPECT_EQ(j["description"], "out of memory (limit 64 MiB)");
  EXPECT_EQ(j["memory_limit_bytes"], 64 << 20);
  ASSERT_TRUE(j["peak_memory_bytes"].is_number()) << r.output;
  EXPECT_LE(j["peak_memory_bytes"].get<uint64_t>(), uint64_t{64} << 20);
  EXPECT_GE(j["peak_memory_bytes"].get<uint64_t>(), uint64_t{32} << 20);
  EXPECT_NE(j["limits_level"], "none");
  EXPECT_EQ(count_marked(marker_), 0);
  // The job's v1 groups went with it.
  std::string name = job_cgroup_name(r.output);
  ASSERT_FALSE(name.empty()) << r.output;
  if (j["limits_level"] == "cgroup1") {
    EXPECT_FALSE(dir_named_exists("/sys/fs/cgroup/memory", name)) << name;
  }
}

TEST_F(Limits, UnderTheMemoryLimitNothingIsKilled) {
  TEND_REQUIRE(limit_available("memory"), "no memory controller (tend doctor: limits)");
  RunResult r =
      run_tend({"run", "--json", "-", "--memory", "64M", "--", "sh", "-c", "exit 3"}, marker_);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  auto j = result_json(r.output);
  EXPECT_EQ(j["oom_killed"], false) << r.output;
  EXPECT_EQ(j["description"], "exited with 3");
}

TEST_F(Limits, ProcessLimitMakesForkFailInsideTheJob) {
  TEND_REQUIRE(limit_available("pids"), "no pids controller (tend doctor: limits)");
  // A failed fork ends a non-interactive sh, so the loop runs in a subshell; the job's main
  // process then waits without forking (exec) until asked to end.
  TendProcess tend({"run", "--json", "-", "--pids", "50", "--", "sh", "-c",
                    "(for i in $(seq 500); do sleep 300 & done) 2>/dev/null; echo spawned; "
                    "exec sleep 300"},
                   marker_, {});
  ASSERT_TRUE(tend.wait_for_output("spawned", 30s)) << tend.output_so_far();
  // The limit holds: at most 50 of the job's processes (sh + sleeps) at once. tend's guard
  // carries the marker too but lives outside the job's cgroup.
  auto job_processes = [&] {
    auto pids = tend::test::marked_pids(marker_);
    std::erase_if(pids, tend::test::is_tend_guard);
    return static_cast<int>(pids.size());
  };
  EXPECT_LE(job_processes(), 50);
  EXPECT_GE(job_processes(), 10);
  // Asked to end, it ends normally: SIGTERM to every process, within the grace.
  ASSERT_EQ(::kill(tend.pid(), SIGTERM), 0);
  RunResult r = tend.finish(30s);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.output;
  auto j = result_json(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["killed"], false) << "SIGTERM was enough";
  ASSERT_TRUE(j["pids_refused"].is_number()) << r.output;
  EXPECT_GT(j["pids_refused"].get<int>(), 0) << "fork must have failed inside the job";
  ASSERT_TRUE(j["peak_processes"].is_number()) << r.output;
  EXPECT_LE(j["peak_processes"].get<int>(), 50);
  EXPECT_EQ(count_marked(marker_), 0);
}

TEST_F(Limits, CpuQuotaBoundsCpuTime) {
  TEND_REQUIRE(limit_available("cpu"), "no cpu controller (tend doctor: limits)");
  // A quota far below what a busy loop gets even with the CPUs oversubscribed 4x (about 0.2 of
  // a CPU): at 0.2 itself the loop may never get more than its quota from a loaded machine, is
  // never throttled, and cpu_throttled_us stays 0.
  RunResult r = run_tend(
      {"run", "--json", "-", "--cpu", "0.05", "-t", "2", "--", "sh", "-c", "while :; do :; done"},
      marker_);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 124) << r.output;
  auto j = result_json(r.output);
  ASSERT_TRUE(j["cpu_user_us"].is_number()) << r.output;
  double cpu_s = (j["cpu_user_us"].get<double>() + j["cpu_system_us"].get<double>()) / 1e6;
  // 0.1 s in 2 s; unlimited, it would be 2 s on an idle machine, 0.4 s on a loaded one.
  EXPECT_LE(cpu_s, 0.2) << "2 s of a busy loop at 0.05 CPUs";
  EXPECT_GT(cpu_s, 0.025) << "it ran at all";
  ASSERT_TRUE(j["cpu_throttled_us"].is_number()) << r.output;
  EXPECT_GT(j["cpu_throttled_us"].get<int64_t>(), 0);
  EXPECT_EQ(count_marked(marker_), 0);
}

// The v1 groups do not depend on the v2 scope: the session level and the clone() fallback (the
// child writes itself into cgroup.procs) join them before exec too.
TEST_F(Limits, SessionLevelAndCloneFallbackStartInsideTheGroups) {
  TEND_REQUIRE(limit_available("pids"), "no pids controller (tend doctor: limits)");
  const std::string script =
      "g=$(sed -n 's/^[0-9]*:pids://p' /proc/self/cgroup); "
      "if [ -n \"$g\" ]; then cat /sys/fs/cgroup/pids$g/pids.max; "
      "else cat /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/pids.max; fi";
  for (auto [scope, spawn] : {std::pair{"session", "clone3"}, std::pair{"cgroup", "clone"}}) {
    TendProcess::Options o;
    o.env = {std::string("TEND_SPAWN=") + (std::string(spawn) == "clone" ? "clone" : "")};
    RunResult r =
        run_tend({"run", "--json", "-", "--scope", scope, "--pids", "7", "--", "sh", "-c", script},
                 marker_, o);
    auto j = result_json(r.output);
    if (r.exit_code == 125 && std::string(scope) == "session") {
      // v2 limits need the job's own cgroup: refused, not silently moved to the cgroup level.
      EXPECT_NE(r.output.find("need the cgroup scope level"), std::string::npos) << r.output;
      continue;
    }
    EXPECT_EQ(r.exit_code, 0) << scope << " " << spawn << ": " << r.output;
    EXPECT_EQ(r.output.rfind("7\n", 0), 0u) << scope << " " << spawn << ": " << r.output;
    EXPECT_EQ(j["scope_level"], scope) << r.output;
    EXPECT_EQ(j["spawn_level"], spawn) << r.output;
  }
  EXPECT_EQ(count_marked(marker_), 0);
}

// A temporary directory standing in for /sys/fs/cgroup with only some hierarchies in it.
struct FakeV1Root {
  TempDir dir;
  void link(const std::string& controller, const std::string& target) {
    ASSERT_EQ(::symlink(target.c_str(), (dir.path + "/" + controller).c_str()), 0);
  }
};

TEST_F(Limits, MissingControllerIsRefusedAndNothingRuns) {
  TEND_REQUIRE(limit_available("memory"), "no memory controller (tend doctor: limits)");
  FakeV1Root root;
  root.link("memory", "/sys/fs/cgroup/memory");
  root.link("pids", root.dir.path);  // a directory, but not a pids hierarchy
  std::string touched = root.dir.path + "/ran";
  TendProcess::Options o;
  o.env = {"TEND_CGROUP_V1_ROOT=" + root.dir.path, "TEND_LIMITS=cgroup1"};
  RunResult r = run_tend({"run", "--pids", "10", "--", "touch", touched}, marker_, o);
  ASSERT_TRUE(r.finished);
  EXPECT_EQ(r.exit_code, 125) << r.output;
  EXPECT_NE(r.output.find("cannot limit pids"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not a pids hierarchy"), std::string::npos) << r.output;
  EXPECT_NE(::access(touched.c_str(), F_OK), 0) << "the command must not have run";

  r = run_tend({"run", "--cpu", "1", "--", "touch", touched}, marker_, o);
  EXPECT_EQ(r.exit_code, 125) << r.output;
  EXPECT_NE(r.output.find("cannot limit cpu"), std::string::npos) << r.output;
  EXPECT_NE(::access(touched.c_str(), F_OK), 0);

  // The hierarchy that is there works through the same root.
  r = run_tend({"run", "--json", "-", "--memory", "64M", "--", "touch", touched}, marker_, o);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(result_json(r.output)["limits_level"], "cgroup1") << r.output;
  EXPECT_EQ(::access(touched.c_str(), F_OK), 0);
}

TEST_F(Limits, BadValuesAreRefusedBeforeAnythingRuns) {
  TempDir dir;
  std::string touched = dir.path + "/ran";
  for (std::vector<std::string> bad : {
           std::vector<std::string>{"--memory", "lots"},
           {"--memory", "-64M"},
           {"--memory", "64"},  // bytes: below 1 MiB, almost surely a missing unit
           {"--memory", "99999999999999999999"},
           {"--memory-high", "128M", "--memory", "64M"},
           {"--swap", "1X"},
           {"--pids", "0"},
           {"--pids", "-5"},
           {"--pids", "ten"},
           {"--cpu", "0"},
           {"--cpu", "-1"},
           {"--cpu", "fast"},
           {"--cpu", "nan"},
       }) {
    std::vector<std::string> args{"run"};
    args.insert(args.end(), bad.begin(), bad.end());
    args.insert(args.end(), {"--", "touch", touched});
    RunResult r = run_tend(args, marker_);
    EXPECT_EQ(r.exit_code, 125) << bad[0] << " " << bad[1] << ": " << r.output;
    EXPECT_NE(r.output.find("tend: "), std::string::npos) << r.output;
    EXPECT_NE(::access(touched.c_str(), F_OK), 0) << bad[0] << " " << bad[1];
  }
}

}  // namespace
}  // namespace scenario
