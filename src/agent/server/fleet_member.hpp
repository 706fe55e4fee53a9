// The agent's side of the fleet (docs/fleet.md): `tend agent --etcd … --name NAME`. Coroutines
// on the agent's io_context, with the etcd client:
//  - membership: `machines/NAME` on a lease (created only if absent: a second agent with a live
//    name is refused), `seen/NAME`, the keepalive, and re-registration after the lease is lost;
//  - assignments: range + watch of `assign/NAME/`; each new one is claimed by txn, and only a
//    won claim becomes a local job (id = the fleet job's id, so a restarted agent finds it);
//  - reports (fleet_reporter.cpp): every change of a fleet job's local state wakes the reporter,
//    which writes the changed runs to `runs/ID/NAME` in one txn, each put fenced by its claim's
//    create_revision; writes that fail (etcd away) are retried with the current truth until they
//    succeed. `{"cancel": true}` cancels the local job.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "etcd/client.hpp"
#include "etcd/lease_keeper.hpp"
#include "fleet/protocol.hpp"
#include "server/fleet_changes.hpp"
#include "server/job_admission.hpp"
#include "server/options.hpp"
#include "server/scheduler.hpp"
#include "server/store.hpp"

namespace tend::agent {

struct FleetMemberConfig {
  FleetOptions fleet;
  std::string address;   // the agent's API URL (advertised)
  std::string data_id;   // stable per data directory (DATA/fleet-id)
  std::string jobs_dir;  // DATA/jobs
  std::string version;
  AdmissionPolicy admission;  // as for the agent's API: limits, user policy
  // Fed by the scheduler's hook after each job record it wrote (SchedulerOptions::on_recorded),
  // from its thread; shared so that a late call after the member's end is harmless.
  std::shared_ptr<RunChanges> changes = std::make_shared<RunChanges>();
};

// Figures for /metrics and the tests: etcd writes the member made for runs (claims and run
// records; registration and keepalives apart), and runs claimed / finally reported.
// report_rounds: the reporter's passes that wrote; late_records: run records written by a pass
// the fallback timer started rather than a change (0 in a healthy fleet: a run's new state is
// written when it happens, not on the next tick).
struct FleetFigures {
  uint64_t run_writes = 0, claims_won = 0, claims_lost = 0, runs_reported = 0;
  uint64_t registrations = 0, leases_lost = 0;
  uint64_t report_rounds = 0, late_records = 0;
};

class FleetMember {
 public:
  FleetMember(boost::asio::io_context& ioc, FleetMemberConfig cfg, Store& store,
              Scheduler& scheduler);
  ~FleetMember();

  // Registers the machine, bounded (≤ ~12 s): an Error of kind usage when another live agent
  // has the name, another kind when etcd refused the etcd user (at once) or could not be
  // reached in time.
  boost::asio::awaitable<Expected<void>> join();
  // Starts the loops (after a successful join); they end after stop().
  void start();
  // Ends the loops (each at its next wait, ≤ a few seconds) and revokes the lease.
  void stop();
  std::string render_metrics() const;
  const FleetFigures& figures() const { return figures_; }

 private:
  struct Run {
    int64_t token = 0;     // the claim's create_revision
    int64_t run_mod = 0;   // runs/ID/NAME's mod_revision as last written or seen
    std::string reported;  // the state last written to etcd
    bool lost = false;     // marked lost: reported as `lost` with its true figures
    std::string lost_why;  // who marked it lost and why (the start of the reported error)
  };
  enum class Registered { yes, name_taken, refused, unreachable };

  boost::asio::awaitable<Registered> register_once(std::string& why);
  boost::asio::awaitable<void> membership();
  boost::asio::awaitable<void> assignments();
  boost::asio::awaitable<void> claims_worker();
  boost::asio::awaitable<void> reporter();
  boost::asio::awaitable<void> handle_assignment(etcd::KeyValue kv);
  boost::asio::awaitable<void> claim(std::string id, int64_t assign_mod, bool cancel);
  boost::asio::awaitable<void> claim_failed(std::string id, const etcd::TxnResult& r);
  // At the first read of the assignments (and the next ones until it went through): the local runs
  // that are not finished and not assigned (`assigned`: the ids read). A housekeeping server
  // deletes the assignment of a run it marks lost, so a restarted agent finds such a run only here:
  // each that this machine claimed is tracked again (and, marked lost, killed and reported). False
  // if etcd failed meanwhile: then it runs again at the next read.
  boost::asio::awaitable<bool> adopt_unassigned(std::set<std::string> assigned);
  // One record to write: what etcd should say of a tracked run.
  struct Due {
    std::string id;
    fleet::RunRecord want;
    std::string value;  // want as JSON
    bool final = false;
    Run run;  // the tracked run when it was read
  };
  // The record `id` needs, if any (nullopt: nothing to write, or no longer tracked).
  std::optional<Due> due(const std::string& id);
  // Writes the due records of `ids` in as few txns as etcd takes; `late`: a fallback pass.
  boost::asio::awaitable<void> report(std::vector<std::string> ids, bool late);
  boost::asio::awaitable<void> report_batch(std::vector<Due> batch, bool late);
  // A batch whose compares failed: each run's record looked at apart (failure branch ranges).
  void batch_failed(const std::vector<Due>& batch, const etcd::TxnResult& r);
  void reported(const Due& d, int64_t revision);
  // Lets the scheduler's hook wake the reporter (a post onto this member's io_context).
  void attach_reporter();
  // A failure to start a claimed run (bad spec, refused user, disk): reported as its end.
  boost::asio::awaitable<void> report_not_started(std::string id, int64_t token, int64_t run_mod,
                                                  std::string why);
  Expected<void> start_local(const std::string& id, const fleet::JobSpec& spec);
  void track(const std::string& id, Run run);
  void mark_lost(const std::string& id, const std::string& why);
  // After a re-registration: the runs a server marked lost meanwhile are marked so here too (a
  // run still running writes nothing, so no failed write would tell).
  boost::asio::awaitable<void> check_lost_marks();
  void enqueue(etcd::KeyValue kv);
  boost::asio::awaitable<void> pause(std::chrono::milliseconds d);
  fleet::MachineRecord machine_record() const;
  fleet::SeenRecord seen_record() const;

  boost::asio::io_context& ioc_;
  FleetMemberConfig cfg_;
  fleet::Keys keys_;
  Store& store_;
  Scheduler& scheduler_;
  std::unique_ptr<etcd::Client> client_;
  std::string instance_;
  int64_t lease_ = 0;
  etcd::LeaseKeeper* keeper_ = nullptr;
  bool stopping_ = false;
  bool adopted_ = false;  // adopt_unassigned() has run through
  std::chrono::steady_clock::time_point away_since_{};
  std::deque<etcd::KeyValue> queue_;
  boost::asio::steady_timer queue_timer_;
  // Shared with the wake-ups posted from the scheduler's thread, which hold it weakly: one that
  // runs after the member is gone finds nothing to cancel.
  std::shared_ptr<boost::asio::steady_timer> report_timer_;
  std::map<std::string, Run> runs_;
  std::shared_ptr<RunChanges> changes_;
  FleetFigures figures_;
};

}  // namespace tend::agent
