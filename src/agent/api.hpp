// The agent's HTTP API (see docs/api.md): routes, authentication, request validation and the
// output streams. Job state transitions are the Supervisor's; this only reads the Store.
#pragma once

#include <memory>
#include <string>

#include "metrics.hpp"
#include "store.hpp"
#include "supervisor.hpp"

namespace httplib {
class Server;
}

namespace tend::agent {

struct ApiOptions {
  std::string token;
  std::string jobs_dir;
  int64_t max_queued = 1000;
  size_t body_limit = 1 << 20;
};

class Api {
 public:
  Api(Store& store, Supervisor& supervisor, Metrics& metrics, ApiOptions opts);
  ~Api();
  // Binds; port 0 picks a free one. Returns the port.
  Expected<int> bind(const std::string& host, int port);
  // Serves until stop() (blocking).
  void serve();
  void stop();

 private:
  void routes();
  Store& store_;
  Supervisor& supervisor_;
  Metrics& metrics_;
  ApiOptions opts_;
  std::unique_ptr<httplib::Server> server_;
};

// The JSON a client sees for one job.
nlohmann::json job_json(const JobRecord& rec);

}  // namespace tend::agent
