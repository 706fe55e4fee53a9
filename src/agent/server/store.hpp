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
  // What the job's limits did (tend::Result): the mechanism, the OOM killer's kills in the job,
  // the most processes at once, forks refused, time held back by the CPU quota. Absent where no
  // controller counts it (peak_memory_bytes above is the whole scope's where one does).
  std::optional<std::string> limits_level;
  bool oom_killed = false;
  int64_t oom_kills = 0;
  std::optional<int64_t> peak_processes, pids_refused, cpu_throttled_ms;
  // How the job's main process ended, for a person: "exited with 3", "killed by SIGTERM",
  // "out of memory (limit 64 MiB)" (Result::describe()).
  std::optional<std::string> reason;
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

// Every failure of a statement is an Error (never a short answer), logged once on stderr, with
// a code that says what kind it is: ENOSPC (SQLITE_FULL: the disk is full), EUCLEAN
// (SQLITE_CORRUPT/NOTADB: the database is damaged), EIO (any other failure).
class Store {
 public:
  // Opens (creates) the database, private to the agent (0600), and refuses a damaged one
  // (PRAGMA quick_check) with an error that names the way out (`tend agent --recover`).
  static Expected<std::unique_ptr<Store>> open(const std::string& path);
  // The records that can still be read from a damaged database: from the oldest up to the first
  // unreadable page, then from the newest down to it. Read-only; nothing is changed.
  static std::vector<JobRecord> salvage(const std::string& path);
  ~Store();

  // Inserts a new record; sets rec.seq.
  Expected<void> insert(JobRecord& rec);
  Expected<std::optional<JobRecord>> get(const std::string& id);
  Expected<std::vector<JobRecord>> list(const ListQuery& q);
  Expected<std::vector<JobRecord>> with_state(JobState s, int limit = -1);  // oldest first
  Expected<std::map<JobState, int64_t>> count_by_state();
  Expected<int64_t> count(JobState s);
  // Writes every mutable field of `rec` (state, times, figures, shim identity).
  Expected<void> update(const JobRecord& rec);
  // Deletes the records (and their labels) of `ids` in one transaction.
  Expected<void> remove(const std::vector<std::string>& ids);
  // Up to `limit` finished jobs, oldest first, that are not among the newest `keep` jobs.
  Expected<std::vector<std::string>> beyond_newest(int64_t keep, int limit);
  // Up to `limit` jobs, oldest first, that finished before `before_ms`.
  Expected<std::vector<std::string>> finished_before(int64_t before_ms, int limit);
  Expected<std::vector<std::string>> all_ids();

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Expected<void> exec(const char* sql);
  // Adds the columns a database made by an older agent lacks (kAddedColumns).
  Expected<void> add_missing_columns();
  using Arg = std::variant<int64_t, std::string>;
  // Runs a SELECT of all job columns; the caller holds mu_.
  Expected<std::vector<JobRecord>> query_locked(const std::string& where_and_order,
                                                const std::vector<Arg>& args);
  Expected<std::vector<std::string>> ids_locked(const char* sql, const std::vector<Arg>& args);
  // The error for the last failed call on the connection, logged; the caller holds mu_.
  Error failure(const std::string& stage, int rc);

  // The statement for `sql`, prepared once and kept (nullptr if it does not compile); the caller
  // holds mu_.
  sqlite3_stmt* prepared(const std::string& sql);

  std::mutex mu_;
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

}  // namespace tend::agent
