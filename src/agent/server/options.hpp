// The options of `tend agent`, parsed and checked: a bad one ends the program with 125 and one
// line that names it, before anything is created.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "etcd/connect_flags.hpp"
#include "http/address.hpp"
#include "http/server.hpp"
#include "server/limit_policy.hpp"
#include "server/retention.hpp"
#include "server/user_policy.hpp"

namespace tend::agent {

// `tend agent --etcd …`: the machine joins a fleet (docs/fleet.md). No endpoints: not in one.
struct FleetOptions {
  etcd::ConnectFlags etcd;      // as given: endpoints "http://h:p,http://h:p", TLS, user
  etcd::Connection connection;  // made from them (check_fleet_options)
  bool joins() const { return !etcd.endpoints.empty(); }
  std::string name;
  std::map<std::string, std::string> labels;
  std::chrono::seconds ttl{10};
  std::string advertise;  // the API's URL for servers; "": http://LISTEN
  // 0: runs are only declared lost by a server; else also by the agent itself when it was
  // away from etcd this long (its unfinished fleet runs are killed and reported `lost`).
  std::chrono::milliseconds lost_after{0};
  std::string prefix = "/tend/";
};

struct AgentOptions {
  http::HostPort listen{"127.0.0.1", 8600};
  std::string data = "./tend-data";
  std::string token_file;  // empty: DATA/token
  int max_running = 0;     // 0: 2 x cores
  int64_t max_queued = 1000;
  uint64_t output_limit = 64ull << 20;
  http::ServerLimits http;
  RetentionPolicy retention;
  std::vector<std::string> pass_env;  // more variables jobs inherit from the agent
  UserPolicy users;
  JobLimitOptions limits;  // --job-memory, --job-pids, --job-cpu
  bool recover = false;    // rebuild the records from the job directories, then serve
  FleetOptions fleet;
};

// Parses argv into `o`. Returns the exit status when the program must end now (0 after --help,
// 125 after a bad option, with the message printed), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv, AgentOptions& o);

// Checks the fleet flags and fills `f` (labels, ttl, lost_after): the message for a bad one.
std::optional<std::string> check_fleet_options(bool etcd_given,
                                               const std::vector<std::string>& labels,
                                               const std::string& ttl,
                                               const std::string& lost_after, FleetOptions& f);

}  // namespace tend::agent
