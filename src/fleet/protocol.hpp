// The fleet's protocol in etcd (docs/fleet.md): the key layout under a prefix, and the JSON
// records stored at those keys. Shared by `tend agent --etcd` and `tend server`: both read and
// write exactly these names and shapes, nothing else. Pure: no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tend/error.hpp"

namespace tend::fleet {

// Machine names and job ids are path segments of keys: non-empty, at most 128 bytes of
// [A-Za-z0-9._-], not "." or "..". nullopt when `name` is one; else why not (kind usage).
std::optional<Error> check_segment(std::string_view what, std::string_view name);

// Every key of the fleet, under `prefix` (default "/tend/", always ending with '/').
class Keys {
 public:
  explicit Keys(std::string prefix = "/tend/");
  const std::string& prefix() const { return prefix_; }

  std::string machine_key(std::string_view name) const;  // machines/NAME (on the agent's lease)
  std::string machines_prefix() const;                   // machines/
  std::string seen_key(std::string_view name) const;     // seen/NAME (no lease)
  std::string seen_prefix() const;                       // seen/
  std::string job_key(std::string_view id) const;        // jobs/ID
  std::string jobs_prefix() const;                       // jobs/
  std::string assign_key(std::string_view name, std::string_view id) const;  // assign/NAME/ID
  std::string assign_prefix(std::string_view name) const;                    // assign/NAME/
  std::string assignments_prefix() const;  // assign/ (every machine's: the server counts them)
  std::string claim_key(std::string_view id, std::string_view name) const;  // claims/ID/NAME
  std::string claims_prefix(std::string_view id) const;                     // claims/ID/
  std::string run_key(std::string_view id, std::string_view name) const;    // runs/ID/NAME
  std::string runs_prefix(std::string_view id) const;                       // runs/ID/
  std::string all_runs_prefix() const;  // runs/ (every job's runs: the server's job cache)
  // housekeeper: the elected server that marks runs lost (on that server's lease).
  std::string housekeeper_key() const;

  // The last segment of `key` if it lies directly under `prefix` (e.g. the job id of an
  // assign key under assign_prefix(name), the name of a machine key): nullopt otherwise.
  static std::optional<std::string> last_segment(std::string_view prefix, std::string_view key);

 private:
  std::string prefix_;
};

// machines/NAME: the machine is online while this key (on its lease) exists.
struct MachineRecord {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string address;  // the agent's API, "http://HOST:PORT" (--advertise, else --listen)
  std::string version;  // tend's version
  // "DATA_ID:PROCESS_ID": unique per agent process (tells this process's writes from others'),
  // its DATA_ID stable per data directory (a restarted agent knows its own earlier registration
  // and claims).
  std::string instance;
};

// The DATA_ID part of an instance ("" when it has none).
std::string_view instance_data_id(std::string_view instance);

// seen/NAME: what is known of a machine whose lease lapsed (so it stays listed, unreachable).
struct SeenRecord {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string address;
  std::string version;
  std::string last_seen;  // RFC 3339: when the agent last registered
  int64_t ttl = 0;        // the agent's --ttl in seconds (0: an older agent that did not say)
  // Written by the housekeeping server once it finds machines/NAME gone (the agent's next
  // registration writes the record without it): since when the machine is unreachable.
  std::optional<std::string> unreachable_since;  // RFC 3339
};

// jobs/ID: the immutable spec, written once by a server.
struct JobSpec {
  std::string id;
  nlohmann::json request = nlohmann::json::object();  // the agent's POST /v1/jobs body, no target
  nlohmann::json target = nlohmann::json::object();   // as submitted (target.hpp)
  std::vector<std::string> machines;                  // what the target selected, sorted
  std::string created_at;                             // RFC 3339
};

// assign/NAME/ID: `{}` to run; `{"cancel": true}` to stop the run (or never start it).
struct Assignment {
  bool cancel = false;
};

// claims/ID/NAME: written once, by the agent that won the run. Its create_revision is the
// run's fencing token.
struct Claim {
  std::string instance;  // MachineRecord::instance of the winner
};

// The states of a run: the agent's job states, plus `lost` (written by the housekeeping server
// when the machine stayed away longer than its --lost-after, or by the agent itself on its return
// after that long away).
namespace run_state {
inline constexpr const char* queued = "queued";  // claimed, not started yet
inline constexpr const char* running = "running";
inline constexpr const char* lost = "lost";
}  // namespace run_state
bool is_final_run_state(std::string_view state);

// runs/ID/NAME: the run's state, written by the claim holder (fenced by the claim's revision).
struct RunRecord {
  std::string state = run_state::queued;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::optional<std::string> error;
  std::optional<std::string> started_at, finished_at;  // RFC 3339
  int64_t output_bytes = 0;
  int64_t output_dropped_bytes = 0;
  int leftovers_killed = 0;
};

nlohmann::json to_json(const MachineRecord&);
nlohmann::json to_json(const SeenRecord&);
nlohmann::json to_json(const JobSpec&);
nlohmann::json to_json(const Assignment&);
nlohmann::json to_json(const Claim&);
nlohmann::json to_json(const RunRecord&);

// Decoding a stored value: the record, or an Error of kind bad_data naming the record and the
// field. Unknown fields are ignored (a newer writer may add some); missing optional ones take
// their defaults.
Expected<MachineRecord> machine_from_json(std::string_view text);
Expected<SeenRecord> seen_from_json(std::string_view text);
Expected<JobSpec> job_from_json(std::string_view text);
Expected<Assignment> assignment_from_json(std::string_view text);
Expected<Claim> claim_from_json(std::string_view text);
Expected<RunRecord> run_from_json(std::string_view text);

}  // namespace tend::fleet
