#include "server/store.hpp"

#include <sqlite3.h>

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
  shim_pid INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
CREATE TABLE IF NOT EXISTS labels(
  key TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY(key, value, seq)) WITHOUT ROWID;
)sql";

constexpr const char* kColumns =
    "seq, id, state, request, created_ms, started_ms, finished_ms, exit_code, signal, "
    "exit_status, error, duration_ms, cpu_user_ms, cpu_system_ms, peak_memory_bytes, "
    "output_bytes, output_dropped_bytes, leftovers_killed, shim_pid, cancel_requested";

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
  return r;
}

Error db_error(sqlite3* db, std::string stage) {
  return Error::with_detail(std::move(stage), sqlite3_errmsg(db));
}

}  // namespace

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
  return store;
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

Expected<void> Store::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    Error e = Error::with_detail("sqlite", msg ? msg : "error");
    sqlite3_free(msg);
    return e;
  }
  return {};
}

Expected<void> Store::insert(JobRecord& rec) {
  std::lock_guard lock(mu_);
  if (auto r = exec("BEGIN IMMEDIATE;"); !r) return r;
  {
    Stmt s(prepared("INSERT INTO jobs(id, state, request, created_ms) VALUES(?1, ?2, ?3, ?4)"));
    if (!s) return db_error(db_, "prepare insert");
    s.bind(1, rec.id);
    s.bind(2, std::string(to_string(rec.state)));
    s.bind(3, rec.request.dump());
    s.bind(4, rec.created_ms);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
      Error e = db_error(db_, "insert job");
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
        Error e = db_error(db_, "insert label");
        (void)exec("ROLLBACK;");
        return e;
      }
    }
  }
  return exec("COMMIT;");
}

std::vector<JobRecord> Store::query_locked(const std::string& tail, const std::vector<Arg>& args) {
  std::vector<JobRecord> out;
  Stmt s(prepared(std::string("SELECT ") + kColumns + " FROM jobs " + tail));
  if (!s) return out;
  for (size_t i = 0; i < args.size(); ++i)
    std::visit([&](const auto& v) { s.bind(static_cast<int>(i + 1), v); }, args[i]);
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_row(s.get()));
  return out;
}

std::optional<JobRecord> Store::get(const std::string& id) {
  std::lock_guard lock(mu_);
  auto rows = query_locked("WHERE id = ?1", {id});
  if (rows.empty()) return std::nullopt;
  return std::move(rows[0]);
}

std::vector<JobRecord> Store::list(const ListQuery& q) {
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

std::vector<JobRecord> Store::with_state(JobState st, int limit) {
  std::lock_guard lock(mu_);
  return query_locked("WHERE state = ?1 ORDER BY seq ASC LIMIT ?2",
                      {std::string(to_string(st)), int64_t{limit}});
}

std::map<JobState, int64_t> Store::count_by_state() {
  std::map<JobState, int64_t> out;
  std::lock_guard lock(mu_);
  Stmt s(prepared("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
  if (!s) return out;
  while (sqlite3_step(s.get()) == SQLITE_ROW)
    if (auto st = job_state_from_string(col_text(s.get(), 0)))
      out[*st] = sqlite3_column_int64(s.get(), 1);
  return out;
}

int64_t Store::count(JobState st) {
  std::lock_guard lock(mu_);
  Stmt s(prepared("SELECT COUNT(*) FROM jobs WHERE state = ?1"));
  if (!s) return 0;
  s.bind(1, std::string(to_string(st)));
  return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : 0;
}

Expected<void> Store::update(const JobRecord& r) {
  std::lock_guard lock(mu_);
  Stmt s(
      prepared("UPDATE jobs SET state=?2, started_ms=?3, finished_ms=?4, exit_code=?5, signal=?6, "
               "exit_status=?7, error=?8, duration_ms=?9, cpu_user_ms=?10, cpu_system_ms=?11, "
               "peak_memory_bytes=?12, output_bytes=?13, output_dropped_bytes=?14, "
               "leftovers_killed=?15, shim_pid=?16, cancel_requested=?17 WHERE id=?1"));
  if (!s) return db_error(db_, "prepare update");
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
  if (sqlite3_step(s.get()) != SQLITE_DONE) return db_error(db_, "update job");
  return {};
}

}  // namespace tend::agent
