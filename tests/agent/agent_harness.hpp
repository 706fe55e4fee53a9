// A real `tend agent` for tests: a temporary data directory, a free loopback port (the agent
// binds port 0 and writes DATA/address), an authenticated HTTP client, and helpers to find the
// processes a test's jobs left behind (by a marker in their environment).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "proc_walk.hpp"

namespace agent_test {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The tests' HTTP clients write to agents that may answer early and close (413, 431): that
// must be an EPIPE for the test to check, not the death of the test process. Children get the
// default back before exec (Agent::start).
inline const bool kSigpipeIgnored = (::signal(SIGPIPE, SIG_IGN), true);

using tend::test::read_text;

inline std::string make_temp_dir() {
  char tmpl[] = "/tmp/tend-agent-test-XXXXXX";
  char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d ? d : "";
}

// A unique value for TEND_TEST_MARKER, so a test counts only its own processes.
inline std::string unique_marker() {
  static int n = 0;
  return "m" + std::to_string(::getpid()) + "x" + std::to_string(++n) + "x" +
         std::to_string(Clock::now().time_since_epoch().count() % 1000000);
}

// TODO(lead): use tests/support (proc_walk, temp_dir, TEND_REQUIRE) once src/agent is split.
// The processes /proc lists now for which `pred("/proc/PID")` holds. The tests' own walk of the
// process table, independent of the library under test.
template <class Pred>
std::vector<pid_t> pids_where(Pred pred) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (pred(std::string("/proc/") + e->d_name)) out.push_back(std::atoi(e->d_name));
  }
  if (d) ::closedir(d);
  return out;
}

// Processes whose environment holds TEND_TEST_MARKER=marker: tests/support's exact walk (a
// process caught mid-execve reads an empty environ; it is looked at again, not skipped).
inline int count_marked(const std::string& marker) {
  // Without /proc nothing would be found, and "0 left" would pass: -1 fails every such check.
  if (::access("/proc/self/environ", R_OK) != 0) return -1;
  return static_cast<int>(tend::test::marked_pids(marker).size());
}

// Waits (bounded) until no marked process is left; returns how many remain.
inline int wait_marked_gone(const std::string& marker, std::chrono::milliseconds limit = 5s) {
  auto deadline = Clock::now() + limit;
  int n = count_marked(marker);
  while (n > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    n = count_marked(marker);
  }
  return n;
}

class Agent {
 public:
  // `prefix` wraps the command (e.g. {"unshare", "-fp", "--mount-proc"}).
  explicit Agent(std::vector<std::string> extra_args = {}, std::string data_dir = {},
                 std::vector<std::string> prefix = {})
      : owns_dir_(data_dir.empty()),
        data_(owns_dir_ ? make_temp_dir() : data_dir),
        extra_(std::move(extra_args)),
        prefix_(std::move(prefix)) {}
  ~Agent() {
    stop(SIGTERM);
    if (owns_dir_ && !::testing::Test::HasFailure()) std::filesystem::remove_all(data_);
  }

  // Starts the agent and waits until it answers /healthz. False (with a message) on failure.
  // The bound is generous: a start re-attaches shims and opens the database on a loaded machine.
  bool start(std::chrono::milliseconds limit = 30s) {
    ::unlink((data_ + "/address").c_str());
    std::vector<std::string> args = prefix_;
    for (std::string a : {std::string(TEND_BINARY), std::string("agent"), std::string("--listen"),
                          std::string("127.0.0.1:0"), std::string("--data"), data_})
      args.push_back(a);
    for (const auto& a : extra_) args.push_back(a);
    std::string log = data_ + "/agent.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::signal(SIGPIPE, SIG_DFL);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        last_error_ = "agent exited early: " + read_text(log);
        return false;
      }
      std::string addr = read_text(data_ + "/address");
      if (!addr.empty() && addr.back() == '\n') {
        addr_ = addr.substr(0, addr.size() - 1);
        token_ = read_text(data_ + "/token");
        while (!token_.empty() && (token_.back() == '\n' || token_.back() == ' '))
          token_.pop_back();
        auto r = client().Get("/healthz");
        if (r && r->status == 200) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    last_error_ = "agent did not come up: " + read_text(log);
    return false;
  }

  // Sends `sig` and reaps it (SIGKILL: the crash test).
  void stop(int sig) {
    if (pid_ <= 0) return;
    pid_t target = pid_;
    if (!prefix_.empty()) {
      // `unshare -f` waits for its child and ignores SIGTERM: signal the agent itself.
      std::string kids = read_text("/proc/" + std::to_string(pid_) + "/task/" +
                                   std::to_string(pid_) + "/children");
      if (int kid = std::atoi(kids.c_str()); kid > 0) target = kid;
    }
    ::kill(target, sig);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  httplib::Client client(bool with_token = true) const {
    httplib::Client c("http://" + addr_);
    if (with_token) c.set_bearer_token_auth(token_);
    c.set_connection_timeout(5, 0);
    c.set_read_timeout(60, 0);
    return c;
  }

  // POST /v1/jobs; returns the response (status + body).
  httplib::Result submit(const json& body) const {
    return client().Post("/v1/jobs", body.dump(), "application/json");
  }
  std::string submit_ok(const json& body) const {
    auto r = submit(body);
    EXPECT_TRUE(r) << "no response";
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    return json::parse(r->body, nullptr, false).value("id", "");
  }
  std::optional<json> job(const std::string& id) const {
    auto r = client().Get("/v1/jobs/" + id);
    if (!r || r->status != 200) return std::nullopt;
    return json::parse(r->body);
  }
  // Waits until the job is in a final state; returns it (or the last state seen).
  json wait_final(const std::string& id, std::chrono::milliseconds limit = 30s) const {
    auto deadline = Clock::now() + limit;
    json last;
    while (Clock::now() < deadline) {
      if (auto j = job(id)) {
        last = *j;
        std::string s = last.value("state", "");
        if (s != "queued" && s != "running") return last;
      }
      std::this_thread::sleep_for(30ms);
    }
    ADD_FAILURE() << "job " << id << " did not finish within " << limit.count()
                  << " ms: " << last.dump();
    return last;
  }
  std::string output(const std::string& id, const std::string& query = "") const {
    auto r = client().Get("/v1/jobs/" + id + "/output" + query);
    return r && r->status == 200 ? r->body : "<HTTP error>";
  }
  int job_count() const {
    auto r = client().Get("/v1/jobs?limit=500");
    return r && r->status == 200 ? static_cast<int>(json::parse(r->body)["jobs"].size()) : -1;
  }

  const std::string& data() const { return data_; }
  const std::string& addr() const { return addr_; }
  const std::string& token() const { return token_; }
  pid_t pid() const { return pid_; }
  const std::string& last_error() const { return last_error_; }

 private:
  bool owns_dir_;
  std::string data_;
  std::vector<std::string> extra_;
  std::vector<std::string> prefix_;
  pid_t pid_ = -1;
  std::string addr_, token_, last_error_;
};

// Runs `tend ARGS` (a shell command line: quotes and redirections work) against `agent`; returns
// the exit status, the output (stdout) in `out`.
inline int run_cli(const Agent& agent, const std::string& args, std::string* out = nullptr) {
  std::string cmd =
      "TEND_ADDR=" + agent.addr() + " TEND_TOKEN=" + agent.token() + " " + TEND_BINARY + " " + args;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int st = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace agent_test
