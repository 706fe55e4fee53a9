#include "server/fleet_read.hpp"

#include <algorithm>
#include <chrono>

#include "tend/time.hpp"

namespace tend::server {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

int64_t ms_of(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  return t ? std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count()
           : 0;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json opt(const std::optional<int>& v) {
  return v ? json(*v) : json(nullptr);
}
json opt(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}

etcd::RangeRequest prefix_range(const std::string& prefix, int64_t revision, bool keys_only) {
  etcd::RangeRequest r;
  r.key = prefix;
  r.range_end = etcd::prefix_end(prefix);
  r.revision = revision;
  r.keys_only = keys_only;
  return r;
}

}  // namespace

asio::awaitable<etcd::Result<std::vector<MachineView>>> read_machines(etcd::Client& c,
                                                                      const fleet::Keys& k) {
  // One round trip: the three ranges in one txn, read at one revision.
  std::vector<etcd::RangeRequest> want = {prefix_range(k.machines_prefix(), 0, false),
                                          prefix_range(k.seen_prefix(), 0, false),
                                          prefix_range(k.assignments_prefix(), 0, true)};
  auto got = co_await c.ranges(std::move(want));
  if (!got) co_return got.error();
  const etcd::RangeResult* online = &(*got)[0];
  const etcd::RangeResult* seen = &(*got)[1];
  const etcd::RangeResult* assigned = &(*got)[2];

  // A record that does not decode is skipped: one bad value must not hide the fleet.
  std::map<std::string, MachineView> by_name;
  for (const auto& kv : seen->kvs) {
    auto name = fleet::Keys::last_segment(k.seen_prefix(), kv.key);
    auto rec = fleet::seen_from_json(kv.value);
    if (!name || !rec) continue;
    MachineView& m = by_name[*name];
    m.labels = rec->labels;
    m.address = rec->address;
    m.version = rec->version;
    m.last_seen_ms = ms_of(rec->last_seen);
    if (rec->unreachable_since) m.unreachable_since_ms = ms_of(*rec->unreachable_since);
  }
  const int64_t now = now_ms();
  for (const auto& kv : online->kvs) {
    auto name = fleet::Keys::last_segment(k.machines_prefix(), kv.key);
    auto rec = fleet::machine_from_json(kv.value);
    if (!name || !rec) continue;
    MachineView& m = by_name[*name];
    m.online = true;
    m.labels = rec->labels;
    m.address = rec->address;
    m.version = rec->version;
    m.last_seen_ms = now;
    m.unreachable_since_ms = 0;
  }
  for (const auto& kv : assigned->kvs) {
    std::string rest = kv.key.substr(k.assignments_prefix().size());
    auto slash = rest.find('/');
    if (slash == std::string::npos) continue;
    if (auto it = by_name.find(rest.substr(0, slash)); it != by_name.end()) ++it->second.running;
  }
  std::vector<MachineView> out;
  for (auto& [name, m] : by_name) {
    m.name = name;
    out.push_back(std::move(m));
  }
  co_return out;
}

std::vector<fleet::Machine> as_targets(const std::vector<MachineView>& ms) {
  std::vector<fleet::Machine> out;
  for (const auto& m : ms) out.push_back({m.name, m.labels, m.online});
  return out;
}

json machine_json(const MachineView& m) {
  return {
      {"name", m.name},
      {"labels", m.labels},
      {"state", m.online ? "online" : "unreachable"},
      {"last_seen", m.last_seen_ms ? json(format_rfc3339(std::chrono::milliseconds(m.last_seen_ms)))
                                   : json(nullptr)},
      {"unreachable_since",
       m.unreachable_since_ms
           ? json(format_rfc3339(std::chrono::milliseconds(m.unreachable_since_ms)))
           : json(nullptr)},
      {"address", m.address},
      {"running", m.running},
      {"version", m.version}};
}

bool run_ended(const std::string& state) {
  return state != kAssigned && fleet::is_final_run_state(state);
}

std::string overall_state(const std::vector<RunView>& runs) {
  bool all_final = true, started = false, all_ok = true, cancelled = false, lost = false;
  for (const auto& r : runs) {
    all_final = all_final && run_ended(r.state);
    started = started || (r.state != kAssigned && r.state != fleet::run_state::queued);
    all_ok = all_ok && r.state == "succeeded";
    cancelled = cancelled || r.state == "cancelled";
    lost = lost || r.state == fleet::run_state::lost;
  }
  if (!all_final) return started ? "running" : "queued";
  if (all_ok) return "succeeded";
  if (cancelled) return "cancelled";
  return lost ? fleet::run_state::lost : "failed";
}

asio::awaitable<etcd::Result<std::optional<JobView>>> read_job(etcd::Client& c,
                                                               const fleet::Keys& k, std::string id,
                                                               int64_t revision,
                                                               bool serializable) {
  // One round trip (a poll of the job costs etcd one read): the spec and the runs in one txn.
  etcd::RangeRequest spec_req;
  spec_req.key = k.job_key(id);
  spec_req.revision = revision;
  spec_req.serializable = serializable;
  etcd::RangeRequest runs_req = prefix_range(k.runs_prefix(id), revision, false);
  runs_req.serializable = serializable;
  std::vector<etcd::RangeRequest> want = {spec_req, runs_req};
  auto got = co_await c.ranges(std::move(want));
  if (!got) co_return got.error();
  const etcd::RangeResult* job = &(*got)[0];
  const etcd::RangeResult* runs = &(*got)[1];
  if (job->kvs.empty()) co_return std::optional<JobView>{};
  auto spec = fleet::job_from_json(job->kvs.front().value);
  if (!spec)
    co_return etcd::Error{etcd::ErrorKind::bad_response,
                          "jobs/" + id + " holds no job: " + spec.error().message()};

  JobView v;
  v.id = id;
  v.spec = std::move(*spec);
  v.create_revision = job->kvs.front().create_revision;
  for (const std::string& name : v.spec.machines) {
    RunView run;
    run.machine = name;
    for (const auto& kv : runs->kvs) {
      if (kv.key != k.run_key(id, name)) continue;
      if (auto rec = fleet::run_from_json(kv.value)) {
        run.record = std::move(*rec);
        run.state = run.record.state;
      }
    }
    v.runs.push_back(std::move(run));
  }
  co_return std::optional<JobView>(std::move(v));
}

json job_json(const JobView& j) {
  json out = j.spec.request.is_object() ? j.spec.request : json::object();
  out["id"] = j.id;
  out["target"] = j.spec.target;
  out["machines"] = j.spec.machines;
  out["created_at"] = j.spec.created_at;
  out["state"] = overall_state(j.runs);
  json runs = json::array();
  for (const auto& r : j.runs) {
    const fleet::RunRecord& rec = r.record;
    runs.push_back({{"machine", r.machine},
                    {"state", r.state},
                    {"exit_code", opt(rec.exit_code)},
                    {"signal", opt(rec.signal)},
                    {"error", opt(rec.error)},
                    {"started_at", opt(rec.started_at)},
                    {"finished_at", opt(rec.finished_at)},
                    {"output_bytes", rec.output_bytes},
                    {"output_dropped_bytes", rec.output_dropped_bytes},
                    {"leftovers_killed", rec.leftovers_killed}});
  }
  out["runs"] = std::move(runs);
  return out;
}

}  // namespace tend::server
