// Store: the agent's durable job records, in one SQLite database (WAL). Thread-safe: one
// connection behind a mutex (the HTTP thread reads, the scheduler thread writes transitions).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/job_state.hpp"
#include "tend/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tend::agent {

struct JobRecord {
  int64_t seq = 0;
  std::string id;
  JobState state = JobState::queued;
  nlohmann::json request;  // to_json(JobRequest)
  int64_t created_ms = 0;
  std::optional<int64_t> started_ms, finished_ms;
  std::optional<int> exit_code, signal;
  std::optional<int> exit_status;  // what `tend run` would exit with (Result::exit_code())
  std::optional<std::string> error;
  std::optional<int64_t> duration_ms, cpu_user_ms, cpu_system_ms, peak_memory_bytes;
  int64_t output_bytes = 0, output_dropped_bytes = 0;
  int leftovers_killed = 0;
  // The job's supervisor process (for the record; a restarted agent finds shims in /proc).
  std::optional<int64_t> shim_pid;
  bool cancel_requested = false;
};

struct ListQuery {
  std::optional<JobState> state;
  std::optional<std::pair<std::string, std::string>> label;
  int limit = 50;
  std::optional<int64_t> before_seq;  // the cursor: only jobs older than this
};

class Store {
 public:
  static Expected<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();

  // Inserts a new record; sets rec.seq.
  Expected<void> insert(JobRecord& rec);
  std::optional<JobRecord> get(const std::string& id);
  std::vector<JobRecord> list(const ListQuery& q);
  std::vector<JobRecord> with_state(JobState s, int limit = -1);  // oldest first
  std::map<JobState, int64_t> count_by_state();
  int64_t count(JobState s);
  // Writes every mutable field of `rec` (state, times, figures, shim identity).
  Expected<void> update(const JobRecord& rec);

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Expected<void> exec(const char* sql);
  using Arg = std::variant<int64_t, std::string>;
  // Runs a SELECT of all job columns; the caller holds mu_.
  std::vector<JobRecord> query_locked(const std::string& where_and_order,
                                      const std::vector<Arg>& args);

  // The statement for `sql`, prepared once and kept (nullptr if it does not compile); the caller
  // holds mu_.
  sqlite3_stmt* prepared(const std::string& sql);

  std::mutex mu_;
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

}  // namespace tend::agent
