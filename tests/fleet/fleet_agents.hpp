// Real `tend agent --etcd …` processes for the fleet's tests: each with its own data directory,
// loopback address (127.0.0.11, .12, …), name and labels; one token file shared by all (as a
// fleet's agents and servers share one). Agents can be started, stopped (SIGTERM), killed
// (SIGKILL), frozen (SIGSTOP) and continued, restarted on their data. The destructor kills
// every agent and every job shim they left, and removes the directories.
//
// Submitting without `tend server`: fleet_submit() writes jobs/ID and the assignments in one txn
// exactly as docs/fleet.md says (what a server does). What a test's jobs left is counted by
// their TEND_TEST_MARKER with tests/support's count_marked (proc_walk.hpp).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "etcd/client.hpp"
#include "fleet/protocol.hpp"
#include "proc_walk.hpp"
#include "tend/child.hpp"

namespace tend::test {

struct AgentSpec {
  std::string name;
  std::string host = "127.0.0.11";
  std::map<std::string, std::string> labels;
  std::vector<std::string> extra;  // more flags, e.g. {"--ttl", "2s"}
};

class FleetAgents {
 public:
  using Millis = std::chrono::milliseconds;

  // `etcd`: the endpoints, comma-separated (EtcdCluster::endpoints()).
  explicit FleetAgents(std::string etcd);
  ~FleetAgents();
  FleetAgents(const FleetAgents&) = delete;
  FleetAgents& operator=(const FleetAgents&) = delete;

  // Adds an agent (not started): its index. Its data directory is made now and kept across
  // restarts.
  int add(AgentSpec spec);
  // Starts agent i and waits until it answers /healthz (≤ limit). False: why() says why (its
  // log included); the process is reaped if it exited.
  bool start(int i, Millis limit = Millis(20000));
  // Starts agent i and waits for it to exit (≤ limit): its exit status (nullopt: still running
  // at the limit, then killed). For the refusals.
  std::optional<int> run_to_exit(int i, Millis limit = Millis(20000));
  void kill(int i);  // SIGKILL, reaped (its job shims keep running: they are durable)
  // SIGTERM, reaped: its exit status (nullopt: still running after 15 s, then killed).
  std::optional<int> terminate(int i);
  void freeze(int i);  // SIGSTOP (returns once stopped)
  void thaw(int i);    // SIGCONT
  bool running(int i) const;

  const std::string& why() const { return why_; }
  const std::string& name(int i) const { return agents_.at(i).spec.name; }
  const std::string& data(int i) const { return agents_.at(i).data; }
  std::string log(int i) const;
  // "http://HOST:PORT" of its API (valid once started).
  const std::string& url(int i) const { return agents_.at(i).url; }
  const std::string& token() const { return token_; }
  const std::string& token_file() const { return token_file_; }
  const std::string& etcd() const { return etcd_; }
  // A scratch directory of the test (removed with the harness): ledgers and such.
  const std::string& dir() const { return dir_; }

  // GET `path` from agent i's API with the token: the body parsed, nullopt on failure.
  std::optional<nlohmann::json> get_json(int i, const std::string& path) const;
  // One figure from agent i's /metrics (e.g. "tend_fleet_run_writes_total"); -1 if absent.
  double metric(int i, const std::string& name) const;

 private:
  struct Agent {
    AgentSpec spec;
    std::string data;
    std::string url;
    Child child;
    bool up = false;
  };
  std::string etcd_;
  std::string dir_;
  std::string token_, token_file_;
  std::vector<Agent> agents_;
  std::string why_;
};

// Coroutines: await them at once (their arguments are references).
// What `tend server` does for POST /v1/jobs: jobs/ID and assign/NAME/ID for every machine in one
// txn that requires jobs/ID to be absent. `request` is the agent's job body.
boost::asio::awaitable<etcd::Result<etcd::TxnResult>> fleet_submit(
    etcd::Client& c, const fleet::Keys& keys, const std::string& id, const nlohmann::json& request,
    const std::vector<std::string>& machines);
// Puts `{"cancel": true}` on the job's assignment to `machine`.
boost::asio::awaitable<etcd::Result<etcd::PutResult>> fleet_cancel(etcd::Client& c,
                                                                   const fleet::Keys& keys,
                                                                   const std::string& id,
                                                                   const std::string& machine);
// runs/ID/NAME decoded, nullopt when absent (or unreadable).
boost::asio::awaitable<std::optional<fleet::RunRecord>> fleet_run(etcd::Client& c,
                                                                  const fleet::Keys& keys,
                                                                  const std::string& id,
                                                                  const std::string& machine);

}  // namespace tend::test
