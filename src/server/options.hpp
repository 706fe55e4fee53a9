// The options of `tend server`, parsed and checked: a bad one ends the program with 125 and one
// line that names it, before anything is started.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "etcd/connect_flags.hpp"
#include "http/address.hpp"
#include "http/server.hpp"

namespace tend::server {

struct ServerOptions {
  etcd::ConnectFlags etcd_flags;  // as given (etcd_flags.endpoints: for messages)
  etcd::Connection etcd;          // the endpoints, TLS and user made from them
  std::string prefix = "/tend/";
  http::HostPort listen{"127.0.0.1", 8700};
  std::string data;  // optional: where the server writes its address (DATA/address)
  std::string token_file;
  std::chrono::milliseconds start_wait{10000};  // etcd must answer within this at start
  http::ServerLimits http;
  // Runs of a machine unreachable (lease lapsed) this long become `lost` (housekeeping, by the
  // one server elected among those running). 0: never (`--lost-after 0` or `off`).
  std::chrono::milliseconds lost_after{5 * 60 * 1000};
  // Ended jobs the watch-fed view of jobs keeps (job_cache.hpp); 0: no view, every
  // GET /v1/jobs/{id} reads etcd.
  size_t job_cache = 1000;
};

// Parses argv into `o`. Returns the exit status when the program must end now (0 after --help,
// 125 after a bad option, with the message printed), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv, ServerOptions& o);

}  // namespace tend::server
