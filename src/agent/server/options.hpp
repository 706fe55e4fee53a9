// The options of `tend agent`, parsed and checked: a bad one ends the program with 125 and one
// line that names it, before anything is created.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http/address.hpp"
#include "http/server.hpp"
#include "server/limit_policy.hpp"
#include "server/retention.hpp"
#include "server/user_policy.hpp"

namespace tend::agent {

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
};

// Parses argv into `o`. Returns the exit status when the program must end now (0 after --help,
// 125 after a bad option, with the message printed), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv, AgentOptions& o);

}  // namespace tend::agent
