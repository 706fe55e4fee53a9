#include "server/store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

namespace tend::agent {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  state TEXT NOT NULL,
  request TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER, finished_ms INTEGER,
  exit_code INTEGER, signal INTEGER, exit_status INTEGER, error TEXT,
  duration_ms INTEGER, cpu_user_ms INTEGER, cpu_system_ms INTEGER, peak_memory_bytes INTEGER,
  output_bytes INTEGER NOT NULL DEFAULT 0, output_dropped_bytes INTEGER NOT NULL DEFAULT 0,
  leftovers_killed INTEGER NOT NULL DEFAULT 0,
  shim_pid INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0,
  limits_level TEXT, oom_killed INTEGER NOT NULL DEFAULT 0, oom_kills INTEGER NOT NULL DEFAULT 0,
  peak_processes INTEGER, pids_refused INTEGER, cpu_throttled_ms INTEGER, reason TEXT);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
CREATE TABLE IF NOT EXISTS labels(
  key TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY(key, value, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_by_seq ON labels(seq);
)sql";

constexpr const char* kColumns =
    "seq, id, state, request, created_ms, started_ms, finished_ms, exit_code, signal, "
    "exit_status, error, duration_ms, cpu_user_ms, cpu_system_ms, peak_memory_bytes, "
    "output_bytes, output_dropped_bytes, leftovers_killed, shim_pid, cancel_requested, "
    // Only in databases since limits (kAddedColumns):
    "limits_level, oom_killed, oom_kills, peak_processes, pids_refused, cpu_throttled_ms, reason";

// Columns added after the first release, with their definitions: a database made by an older
// agent gets them (ALTER TABLE) when it is opened. Older agents ignore them.
constexpr std::pair<const char*, const char*> kAddedColumns[] = {
    {"limits_level", "TEXT"},
    {"oom_killed", "INTEGER NOT NULL DEFAULT 0"},
    {"oom_kills", "INTEGER NOT NULL DEFAULT 0"},
    {"peak_processes", "INTEGER"},
    {"pids_refused", "INTEGER"},
    {"cpu_throttled_ms", "INTEGER"},
    {"reason", "TEXT"}};

// A cached prepared statement, borrowed for one use: reset and unbound when done, so the next
// user finds it fresh. Preparing costs more than running these small statements.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }
  explicit operator bool() const { return s_ != nullptr; }

  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  template <class T>
  void bind(int i, const std::optional<T>& v) {
    if (v)
      bind(i, static_cast<std::conditional_t<std::is_integral_v<T>, int64_t, T>>(*v));
    else
      sqlite3_bind_null(s_, i);
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

std::optional<int64_t> col_opt_int(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(s, i);
}
std::string col_text(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, i))
           : std::string();
}
std::optional<int> narrow(std::optional<int64_t> v) {
  return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
}

JobRecord read_row(sqlite3_stmt* s) {
  JobRecord r;
  r.seq = sqlite3_column_int64(s, 0);
  r.id = col_text(s, 1);
  r.state = job_state_from_string(col_text(s, 2)).value_or(JobState::lost);
  r.request = nlohmann::json::parse(col_text(s, 3), nullptr, false);
  r.created_ms = sqlite3_column_int64(s, 4);
  r.started_ms = col_opt_int(s, 5);
  r.finished_ms = col_opt_int(s, 6);
  r.exit_code = narrow(col_opt_int(s, 7));
  r.signal = narrow(col_opt_int(s, 8));
  r.exit_status = narrow(col_opt_int(s, 9));
  if (sqlite3_column_type(s, 10) != SQLITE_NULL) r.error = col_text(s, 10);
  r.duration_ms = col_opt_int(s, 11);
  r.cpu_user_ms = col_opt_int(s, 12);
  r.cpu_system_ms = col_opt_int(s, 13);
  r.peak_memory_bytes = col_opt_int(s, 14);
  r.output_bytes = sqlite3_column_int64(s, 15);
  r.output_dropped_bytes = sqlite3_column_int64(s, 16);
  r.leftovers_killed = static_cast<int>(sqlite3_column_int64(s, 17));
  r.shim_pid = col_opt_int(s, 18);
  r.cancel_requested = sqlite3_column_int64(s, 19) != 0;
  if (sqlite3_column_count(s) <= 20) return r;  // salvaged from an older agent's database
  if (sqlite3_column_type(s, 20) != SQLITE_NULL) r.limits_level = col_text(s, 20);
  r.oom_killed = sqlite3_column_int64(s, 21) != 0;
  r.oom_kills = sqlite3_column_int64(s, 22);
  r.peak_processes = col_opt_int(s, 23);
  r.pids_refused = col_opt_int(s, 24);
  r.cpu_throttled_ms = col_opt_int(s, 25);
  if (sqlite3_column_type(s, 26) != SQLITE_NULL) r.reason = col_text(s, 26);
  return r;
}

// The errno that says what kind of failure an SQLite result code is (see store.hpp).
int failure_kind(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return ENOSPC;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return EUCLEAN;
    default:
      return EIO;
  }
}

// Runs `PRAGMA quick_check`: the empty string when the database is sound, else what it found.
std::string quick_check(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  if (int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, nullptr); rc != SQLITE_OK)
    return sqlite3_errmsg(db);
  std::string found;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    std::string line = col_text(s, 0);
    if (line != "ok") found += (found.empty() ? "" : "; ") + line;
    if (found.size() > 500) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    found += (found.empty() ? "" : "; ") + std::string(sqlite3_errmsg(db));
  sqlite3_finalize(s);
  return found;
}

}  // namespace

Error Store::failure(const std::string& stage, int rc) {
  Error e{stage, failure_kind(rc), {}, sqlite3_errmsg(db_)};
  std::fprintf(stderr, "tend agent: database: %s\n", e.message().c_str());
  return e;
}

Expected<std::unique_ptr<Store>> Store::open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = Error::with_detail("open database", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    e.path = path;
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<Store> store(new Store(db));
  sqlite3_busy_timeout(db, 5000);
  // Job environments (which may hold secrets) are in it: the agent's alone, whatever an older
  // agent or the umask made of it. (locking_mode=EXCLUSIVE: there is no -shm file.)
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    if (::chmod((path + suffix).c_str(), 0600) != 0 && errno != ENOENT)
      return Error::from_errno("chmod", path + suffix);
  // NOMUTEX: every use of the connection already holds mu_.
  // WAL + synchronous=NORMAL: a commit survives a crash of the agent (the WAL is in the page
  // cache); only a power loss can roll back the last transactions.
  // locking_mode=EXCLUSIVE: only this agent uses the database, so it takes the file lock once
  // and keeps the WAL index in its own memory, instead of several fcntl locks and a shared
  // memory file per statement. No other process can use the database while the agent runs.
  for (const char* sql : {"PRAGMA locking_mode=EXCLUSIVE;", "PRAGMA journal_mode=WAL;",
                          "PRAGMA synchronous=NORMAL;", kSchema}) {
    if (auto r = store->exec(sql); !r) {
      Error e = r.error();
      e.path = path;
      return e;
    }
  }
  if (std::string found = quick_check(db); !found.empty())
    return Error{"database damaged", EUCLEAN, path,
                 found +
                     " (move it aside and start with --recover to rebuild the records from "
                     "the job directories; see docs/security.md)"};
  if (auto r = store->add_missing_columns(); !r) {
    Error e = r.error();
    e.path = path;
    return e;
  }
  return store;
}

std::vector<JobRecord> Store::salvage(const std::string& path) {
  std::vector<JobRecord> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return out;
  }
  std::set<std::string> seen;
  for (const char* order : {"ASC", "DESC"}) {
    // An older agent's database lacks the columns added since: its records without them.
    std::string all = kColumns;
    std::string first = all.substr(0, all.find(", limits_level"));
    sqlite3_stmt* s = nullptr;
    for (const std::string& columns : {all, first}) {
      std::string sql = "SELECT " + columns + " FROM jobs ORDER BY seq " + order;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) break;
      s = nullptr;
    }
    if (!s) break;
    while (sqlite3_step(s) == SQLITE_ROW) {
      JobRecord r = read_row(s);
      if (!r.id.empty() && seen.insert(r.id).second) out.push_back(std::move(r));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  std::sort(out.begin(), out.end(),
            [](const JobRecord& a, const JobRecord& b) { return a.seq < b.seq; });
  return out;
}

Store::~Store() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* Store::prepared(const std::string& sql) {
  if (auto it = stmts_.find(sql); it != stmts_.end()) return it->second;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    return nullptr;
  stmts_.emplace(sql, s);
  return s;
}

Expected<void> Store::add_missing_columns() {
  std::set<std::string> have;
  sqlite3_stmt* s = nullptr;
  if (int rc = sqlite3_prepare_v2(db_, "PRAGMA table_info(jobs)", -1, &s, nullptr); rc != SQLITE_OK)
    return failure("read the table's columns", rc);
  while (sqlite3_step(s) == SQLITE_ROW) have.insert(col_text(s, 1));
  sqlite3_finalize(s);
  for (const auto& [name, definition] : kAddedColumns) {
    if (have.count(name)) continue;
    std::string sql = std::string("ALTER TABLE jobs ADD COLUMN ") + name + " " + definition + ";";
    if (auto r = exec(sql.c_str()); !r) return r;
  }
  return {};
}

Expected<void> Store::exec(const char* sql) {
  if (int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); rc != SQLITE_OK)
    return failure(sql, rc);
  return {};
}

Expected<void> Store::insert(JobRecord& rec) {
  std::lock_guard lock(mu_);
  if (auto r = exec("BEGIN IMMEDIATE;"); !r) return r;
  {
    Stmt s(prepared("INSERT INTO jobs(id, state, request, created_ms) VALUES(?1, ?2, ?3, ?4)"));
    if (!s) {
      Error e = failure("prepare insert", sqlite3_errcode(db_));
      (void)exec("ROLLBACK;");
      return e;
    }
    s.bind(1, rec.id);
    s.bind(2, std::string(to_string(rec.state)));
    s.bind(3, rec.request.dump());
    s.bind(4, rec.created_ms);
    if (int rc = sqlite3_step(s.get()); rc != SQLITE_DONE) {
      Error e = failure("insert job", rc);
      (void)exec("ROLLBACK;");
      return e;
    }
    rec.seq = sqlite3_last_insert_rowid(db_);
  }
  if (auto labels = rec.request.find("labels");
      labels != rec.request.end() && labels->is_object()) {
    for (const auto& [k, v] : labels->items()) {
      Stmt s(prepared("INSERT OR IGNORE INTO labels(key, value, seq) VALUES(?1, ?2, ?3)"));
      s.bind(1, k);
      s.bind(2, v.is_string() ? v.get<std::string>() : v.dump());
      s.bind(3, rec.seq);
      if (!s || sqlite3_step(s.get()) != SQLITE_DONE) {
        Error e = failure("insert label", sqlite3_errcode(db_));
        (void)exec("ROLLBACK;");
        return e;
      }
    }
  }
  if (auto r = exec("COMMIT;"); !r) {
    (void)exec("ROLLBACK;");
    return r;
  }
  return {};
}

Expected<std::vector<JobRecord>> Store::query_locked(const std::string& tail,
                                                     const std::vector<Arg>& args) {
  std::vector<JobRecord> out;
  Stmt s(prepared(std::string("SELECT ") + kColumns + " FROM jobs " + tail));
  if (!s) return failure("prepare query", sqlite3_errcode(db_));
  for (size_t i = 0; i < args.size(); ++i)
    std::visit([&](const auto& v) { s.bind(static_cast<int>(i + 1), v); }, args[i]);
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_row(s.get()));
  // Anything but the end of the rows (SQLITE_CORRUPT, SQLITE_IOERR ...) is not a short answer.
  if (rc != SQLITE_DONE) return failure("read jobs", rc);
  return out;
}

Expected<std::optional<JobRecord>> Store::get(const std::string& id) {
  std::lock_guard lock(mu_);
  auto rows = query_locked("WHERE id = ?1", {id});
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<JobRecord>();
  return std::optional<JobRecord>(std::move((*rows)[0]));
}

Expected<std::vector<JobRecord>> Store::list(const ListQuery& q) {
  std::string where = "WHERE 1";
  std::vector<Arg> args;
  auto param = [&](Arg a) {
    args.push_back(std::move(a));
    return "?" + std::to_string(args.size());
  };
  if (q.state) where += " AND state = " + param(std::string(to_string(*q.state)));
  if (q.before_seq) where += " AND seq < " + param(*q.before_seq);
  if (q.label) {
    std::string k = param(q.label->first);
    std::string v = param(q.label->second);
    where += " AND seq IN (SELECT seq FROM labels WHERE key = " + k + " AND value = " + v + ")";
  }
  where += " ORDER BY seq DESC LIMIT " + param(int64_t{q.limit});
  std::lock_guard lock(mu_);
  return query_locked(where, args);
}

Expected<std::vector<JobRecord>> Store::with_state(JobState st, int limit) {
  std::lock_guard lock(mu_);
  return query_locked("WHERE state = ?1 ORDER BY seq ASC LIMIT ?2",
                      {std::string(to_string(st)), int64_t{limit}});
}

Expected<std::map<JobState, int64_t>> Store::count_by_state() {
  std::map<JobState, int64_t> out;
  std::lock_guard lock(mu_);
  Stmt s(prepared("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
  if (!s) return failure("prepare count", sqlite3_errcode(db_));
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    if (auto st = job_state_from_string(col_text(s.get(), 0)))
      out[*st] = sqlite3_column_int64(s.get(), 1);
  if (rc != SQLITE_DONE) return failure("count jobs", rc);
  return out;
}

Expected<int64_t> Store::count(JobState st) {
  std::lock_guard lock(mu_);
  Stmt s(prepared("SELECT COUNT(*) FROM jobs WHERE state = ?1"));
  if (!s) return failure("prepare count", sqlite3_errcode(db_));
  s.bind(1, std::string(to_string(st)));
  if (int rc = sqlite3_step(s.get()); rc != SQLITE_ROW) return failure("count jobs", rc);
  return sqlite3_column_int64(s.get(), 0);
}

Expected<std::vector<std::string>> Store::ids_locked(const char* sql,
                                                     const std::vector<Arg>& args) {
  std::vector<std::string> out;
  Stmt s(prepared(sql));
  if (!s) return failure("prepare query", sqlite3_errcode(db_));
  for (size_t i = 0; i < args.size(); ++i)
    std::visit([&](const auto& v) { s.bind(static_cast<int>(i + 1), v); }, args[i]);
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(col_text(s.get(), 0));
  if (rc != SQLITE_DONE) return failure("read job ids", rc);
  return out;
}

Expected<std::vector<std::string>> Store::beyond_newest(int64_t keep, int limit) {
  std::lock_guard lock(mu_);
  // The cut is found by walking `keep` entries of the primary key, then the oldest rows are read
  // up to `limit`: cheap enough to run after every job. Queued and running jobs count towards
  // `keep` but stay.
  return ids_locked(
      "SELECT id FROM jobs WHERE seq <= COALESCE((SELECT seq FROM jobs ORDER BY seq DESC "
      "LIMIT 1 OFFSET ?1), -1) AND state NOT IN ('queued', 'running') ORDER BY seq ASC LIMIT ?2",
      {keep, int64_t{limit}});
}

Expected<std::vector<std::string>> Store::finished_before(int64_t before_ms, int limit) {
  std::lock_guard lock(mu_);
  // No index on finished_ms (one more to update per job): this scans, so it runs once a second.
  return ids_locked(
      "SELECT id FROM jobs WHERE finished_ms < ?1 AND state NOT IN ('queued', 'running') "
      "ORDER BY seq ASC LIMIT ?2",
      {before_ms, int64_t{limit}});
}

Expected<std::vector<std::string>> Store::all_ids() {
  std::lock_guard lock(mu_);
  return ids_locked("SELECT id FROM jobs", {});
}

Expected<void> Store::remove(const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  if (auto r = exec("BEGIN IMMEDIATE;"); !r) return r;
  for (const std::string& id : ids) {
    for (const char* sql : {"DELETE FROM labels WHERE seq = (SELECT seq FROM jobs WHERE id = ?1)",
                            "DELETE FROM jobs WHERE id = ?1"}) {
      Stmt s(prepared(sql));
      int rc = s ? (s.bind(1, id), sqlite3_step(s.get())) : sqlite3_errcode(db_);
      if (rc != SQLITE_DONE) {
        Error e = failure("delete job", rc);
        (void)exec("ROLLBACK;");
        return e;
      }
    }
  }
  if (auto r = exec("COMMIT;"); !r) {
    (void)exec("ROLLBACK;");
    return r;
  }
  return {};
}

Expected<void> Store::update(const JobRecord& r) {
  std::lock_guard lock(mu_);
  Stmt s(
      prepared("UPDATE jobs SET state=?2, started_ms=?3, finished_ms=?4, exit_code=?5, signal=?6, "
               "exit_status=?7, error=?8, duration_ms=?9, cpu_user_ms=?10, cpu_system_ms=?11, "
               "peak_memory_bytes=?12, output_bytes=?13, output_dropped_bytes=?14, "
               "leftovers_killed=?15, shim_pid=?16, cancel_requested=?17, limits_level=?18, "
               "oom_killed=?19, oom_kills=?20, peak_processes=?21, pids_refused=?22, "
               "cpu_throttled_ms=?23, reason=?24 WHERE id=?1"));
  if (!s) return failure("prepare update", sqlite3_errcode(db_));
  s.bind(1, r.id);
  s.bind(2, std::string(to_string(r.state)));
  s.bind(3, r.started_ms);
  s.bind(4, r.finished_ms);
  s.bind(5, r.exit_code);
  s.bind(6, r.signal);
  s.bind(7, r.exit_status);
  s.bind(8, r.error);
  s.bind(9, r.duration_ms);
  s.bind(10, r.cpu_user_ms);
  s.bind(11, r.cpu_system_ms);
  s.bind(12, r.peak_memory_bytes);
  s.bind(13, r.output_bytes);
  s.bind(14, r.output_dropped_bytes);
  s.bind(15, int64_t{r.leftovers_killed});
  s.bind(16, r.shim_pid);
  s.bind(17, int64_t{r.cancel_requested ? 1 : 0});
  s.bind(18, r.limits_level);
  s.bind(19, int64_t{r.oom_killed ? 1 : 0});
  s.bind(20, r.oom_kills);
  s.bind(21, r.peak_processes);
  s.bind(22, r.pids_refused);
  s.bind(23, r.cpu_throttled_ms);
  s.bind(24, r.reason);
  if (int rc = sqlite3_step(s.get()); rc != SQLITE_DONE) return failure("update job", rc);
  return {};
}

}  // namespace tend::agent
