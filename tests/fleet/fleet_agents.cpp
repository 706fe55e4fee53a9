#include "fleet_agents.hpp"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "proc_walk.hpp"
#include "tend/command.hpp"

namespace tend::test {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// PIDs whose command line mentions `needle` (the job shims of one data directory).
std::vector<pid_t> pids_mentioning(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string cmd = read_text(std::string("/proc/") + e->d_name + "/cmdline");
    if (cmd.find(needle) != std::string::npos) out.push_back(std::atoi(e->d_name));
  }
  if (d) ::closedir(d);
  return out;
}

}  // namespace

FleetAgents::FleetAgents(std::string etcd) : etcd_(std::move(etcd)) {
  char tmpl[] = "/tmp/tend-fleet-agents-XXXXXX";
  char* d = ::mkdtemp(tmpl);
  dir_ = d ? d : "/tmp";
  token_ = "fleet-test-token-" + std::to_string(::getpid());
  token_file_ = dir_ + "/token";
  std::ofstream(token_file_) << token_ << "\n";
  ::chmod(token_file_.c_str(), 0600);
}

FleetAgents::~FleetAgents() {
  for (size_t i = 0; i < agents_.size(); ++i) kill(static_cast<int>(i));
  // Shims left by killed agents: SIGTERM stops each one's job tree; then SIGKILL.
  for (const auto& a : agents_) {
    for (pid_t p : pids_mentioning(a.data + "/jobs/")) ::kill(p, SIGTERM);
    for (int k = 0; k < 50 && !pids_mentioning(a.data + "/jobs/").empty(); ++k)
      std::this_thread::sleep_for(Millis(100));
    for (pid_t p : pids_mentioning(a.data + "/jobs/")) ::kill(p, SIGKILL);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

int FleetAgents::add(AgentSpec spec) {
  Agent a;
  a.data = dir_ + "/" + spec.name + "-" + std::to_string(agents_.size());
  std::filesystem::create_directories(a.data);
  a.spec = std::move(spec);
  agents_.push_back(std::move(a));
  return static_cast<int>(agents_.size()) - 1;
}

bool FleetAgents::start(int i, Millis limit) {
  auto& a = agents_.at(i);
  why_.clear();
  ::unlink((a.data + "/address").c_str());
  Command cmd({TEND_BINARY, "agent", "--listen", a.spec.host + ":0", "--data", a.data,
               "--token-file", token_file_, "--etcd", etcd_, "--name", a.spec.name});
  for (const auto& [k, v] : a.spec.labels) cmd.arg("--label").arg(k + "=" + v);
  for (const auto& x : a.spec.extra) cmd.arg(x);
  std::string log = a.data + "/agent.log";
  cmd.stdin_(Stdio::null())
      .stdout_(Stdio::file(log, true))
      .stderr_(Stdio::file(log, true))
      .parent_death_signal(SIGKILL);
  auto child = spawn(cmd);
  if (!child) {
    why_ = "cannot start tend agent: " + child.error().message();
    return false;
  }
  a.child = std::move(*child);
  a.up = true;
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    auto done = a.child.try_wait();
    if (done && *done) {
      a.up = false;
      why_ = "agent " + a.spec.name + " exited (" + (*done)->describe() + "): " + this->log(i);
      return false;
    }
    std::string addr = read_text(a.data + "/address");
    if (!addr.empty() && addr.back() == '\n') {
      a.url = "http://" + trimmed(addr);
      httplib::Client c(a.url);
      c.set_connection_timeout(1, 0);
      if (auto r = c.Get("/healthz"); r && r->status == 200) return true;
    }
    std::this_thread::sleep_for(Millis(20));
  }
  why_ = "agent " + a.spec.name + " did not come up: " + this->log(i);
  return false;
}

std::optional<int> FleetAgents::run_to_exit(int i, Millis limit) {
  auto& a = agents_.at(i);
  (void)start(i, limit);
  if (!a.up) {
    const auto& st = a.child.status();
    return st ? std::optional<int>(st->shell_code()) : std::nullopt;
  }
  kill(i);
  return std::nullopt;
}

void FleetAgents::kill(int i) {
  auto& a = agents_.at(i);
  if (!a.up) return;
  (void)a.child.signal(SIGKILL);
  (void)a.child.wait();
  a.up = false;
}

std::optional<int> FleetAgents::terminate(int i) {
  auto& a = agents_.at(i);
  if (!a.up) return std::nullopt;
  (void)a.child.signal(SIGCONT);
  (void)a.child.signal(SIGTERM);
  auto st = a.child.wait_until(Clock::now() + Millis(15000));
  a.up = false;
  if (st && *st) return (*st)->shell_code();
  (void)a.child.signal(SIGKILL);
  (void)a.child.wait();
  return std::nullopt;
}

void FleetAgents::freeze(int i) {
  auto& a = agents_.at(i);
  (void)a.child.signal(SIGSTOP);
  std::string stat = "/proc/" + std::to_string(a.child.pid()) + "/stat";
  for (int k = 0; k < 200; ++k) {
    std::string line = read_text(stat);
    auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'T') return;
    std::this_thread::sleep_for(Millis(10));
  }
}

void FleetAgents::thaw(int i) {
  (void)agents_.at(i).child.signal(SIGCONT);
}

bool FleetAgents::running(int i) const {
  return agents_.at(i).up;
}

std::string FleetAgents::log(int i) const {
  return read_text(agents_.at(i).data + "/agent.log");
}

std::optional<json> FleetAgents::get_json(int i, const std::string& path) const {
  httplib::Client c(agents_.at(i).url);
  c.set_bearer_token_auth(token_);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(10, 0);
  auto r = c.Get(path);
  if (!r || r->status != 200) return std::nullopt;
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

double FleetAgents::metric(int i, const std::string& name) const {
  httplib::Client c(agents_.at(i).url);
  c.set_bearer_token_auth(token_);
  c.set_connection_timeout(5, 0);
  auto r = c.Get("/metrics");
  if (!r || r->status != 200) return -1;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return -1;
}

boost::asio::awaitable<etcd::Result<etcd::TxnResult>> fleet_submit(
    etcd::Client& c, const fleet::Keys& keys, const std::string& id, const json& request,
    const std::vector<std::string>& machines) {
  fleet::JobSpec spec;
  spec.id = id;
  spec.request = request;
  spec.target = {{"machines", machines}};
  spec.machines = machines;
  spec.created_at = "2026-11-30T00:00:00.000Z";
  const std::string value = fleet::to_json(spec).dump();
  etcd::TxnRequest t;
  t.compare = {etcd::Compare::absent(keys.job_key(id))};
  t.success.emplace_back(etcd::PutRequest{keys.job_key(id), value});
  for (const auto& m : machines)
    t.success.emplace_back(
        etcd::PutRequest{keys.assign_key(m, id), fleet::to_json(fleet::Assignment{}).dump()});
  t.failure.emplace_back(etcd::RangeRequest{keys.job_key(id)});
  auto r = co_await c.txn(t);
  // Like the server: a retried txn may fail on its own first success (a slow member under load).
  if (r && etcd::applied_by_earlier_attempt(*r, 0, value)) r->succeeded = true;
  co_return r;
}

boost::asio::awaitable<etcd::Result<etcd::PutResult>> fleet_cancel(etcd::Client& c,
                                                                   const fleet::Keys& keys,
                                                                   const std::string& id,
                                                                   const std::string& machine) {
  etcd::PutRequest p{keys.assign_key(machine, id), fleet::to_json(fleet::Assignment{true}).dump()};
  co_return co_await c.put(p);
}

boost::asio::awaitable<std::optional<fleet::RunRecord>> fleet_run(etcd::Client& c,
                                                                  const fleet::Keys& keys,
                                                                  const std::string& id,
                                                                  const std::string& machine) {
  etcd::RangeRequest r{keys.run_key(id, machine)};
  auto got = co_await c.range(r);
  if (!got || got->kvs.empty()) co_return std::nullopt;
  auto rec = fleet::run_from_json(got->kvs.front().value);
  if (!rec) co_return std::nullopt;
  co_return *rec;
}

}  // namespace tend::test
