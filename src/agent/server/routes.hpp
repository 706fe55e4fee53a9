// The agent's HTTP API (docs/api.md): one named function per route, and the authentication
// guard in front of them. Job state transitions are the Scheduler's; routes read the Store,
// record new jobs and ask the Scheduler to start or cancel them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "http/router.hpp"
#include "http/server.hpp"
#include "server/dir_watch.hpp"
#include "server/limit_policy.hpp"
#include "server/metrics.hpp"
#include "server/output_stream.hpp"
#include "server/scheduler.hpp"
#include "server/store.hpp"
#include "server/job_admission.hpp"

namespace tend::agent {

struct AgentContext {
  Store& store;
  Scheduler& scheduler;
  Metrics& metrics;
  OutputContext output;
  std::string token;
  std::string jobs_dir;
  int64_t max_queued = 1000;
  AdmissionPolicy admission;  // limits, user policy: the same for the API and the fleet
  const http::Server* server = nullptr;  // for its connection figures in /metrics
  std::function<std::string()> extra_metrics;  // more /metrics lines (the fleet member's)
};

http::Router make_routes(AgentContext& ctx);

}  // namespace tend::agent
