// Reading the fleet's state from etcd (docs/fleet.md): the machines (machines/ + seen/), a job
// with its runs (jobs/ID + claims/ID/ + runs/ID/, all read at one revision) and their JSON for
// the API. Read from etcd when asked; only GET /v1/jobs/{id} may be answered from the
// watch-fed view of jobs instead (job_cache.hpp), which holds these same JobViews.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "etcd/client.hpp"
#include "fleet/protocol.hpp"
#include "fleet/target.hpp"

namespace tend::server {

struct MachineView {
  std::string name;
  std::map<std::string, std::string> labels;
  bool online = false;               // machines/NAME exists: its lease is alive
  int64_t last_seen_ms = 0;          // now for an online machine, else what seen/NAME recorded
  int64_t unreachable_since_ms = 0;  // when a server found its lease lapsed (0: online/unknown)
  std::string address;               // its agent's API, "http://HOST:PORT"
  std::string version;
  int64_t running = 0;  // its assignments not finished yet (assign/NAME/*)
};

// Every machine that ever joined (seen/) or is online (machines/), sorted by name.
boost::asio::awaitable<etcd::Result<std::vector<MachineView>>> read_machines(etcd::Client& c,
                                                                             const fleet::Keys& k);
std::vector<fleet::Machine> as_targets(const std::vector<MachineView>& ms);
nlohmann::json machine_json(const MachineView& m);

// The server's view of a run without a record.
inline constexpr const char* kAssigned = "assigned";

struct RunView {
  std::string machine;
  // assigned (no run record: not claimed yet), else the run record's: queued (claimed, not
  // started), running, or a final state.
  std::string state = kAssigned;
  fleet::RunRecord record;
};

struct JobView {
  std::string id;
  fleet::JobSpec spec;  // jobs/ID's value
  int64_t create_revision = 0;
  std::vector<RunView> runs;
};

// True once a run can change no more (assigned, queued and running can).
bool run_ended(const std::string& state);
// running until every run has ended; then succeeded if every run did, cancelled if one was,
// lost if one was (its machine gone longer than --lost-after), else failed. queued while no run
// has started.
std::string overall_state(const std::vector<RunView>& runs);

// The job and its runs at one revision (`revision` 0: the newest); nullopt if there is no such
// job. `serializable`: answered by the member alone (no round through the cluster; what a poll
// needs): it may lag the cluster by that member's apply delay, never shows a state that did not
// happen, and answers without quorum.
boost::asio::awaitable<etcd::Result<std::optional<JobView>>> read_job(etcd::Client& c,
                                                                      const fleet::Keys& k,
                                                                      std::string id,
                                                                      int64_t revision = 0,
                                                                      bool serializable = false);
nlohmann::json job_json(const JobView& j);

}  // namespace tend::server
