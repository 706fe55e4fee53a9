#include "server/fleet_read.hpp"

#include <algorithm>
#include <chrono>

#include "tend/time.hpp"

namespace tend::server {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

json parse_value(const std::string& v) {
  json j = json::parse(v, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::map<std::string, std::string> labels_of(const json& rec) {
  std::map<std::string, std::string> out;
  if (rec.contains("labels") && rec["labels"].is_object())
    for (const auto& [k, v] : rec["labels"].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

std::string text_of(const json& rec, const char* field) {
  return rec.contains(field) && rec[field].is_string() ? rec[field].get<std::string>() : "";
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The seen/ record's last_seen: RFC 3339 text or milliseconds.
int64_t last_seen_of(const json& rec) {
  if (rec.contains("last_seen_ms") && rec["last_seen_ms"].is_number_integer())
    return rec["last_seen_ms"].get<int64_t>();
  if (rec.contains("last_seen") && rec["last_seen"].is_string()) {
    auto t = parse_rfc3339(rec["last_seen"].get<std::string>());
    if (t)
      return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
  }
  return 0;
}

asio::awaitable<etcd::Result<etcd::RangeResult>> range_prefix(etcd::Client& c, std::string prefix,
                                                              int64_t revision, bool keys_only) {
  etcd::RangeRequest r;
  r.key = prefix;
  r.range_end = etcd::prefix_end(prefix);
  r.revision = revision;
  r.keys_only = keys_only;
  co_return co_await c.range(r);
}

}  // namespace

asio::awaitable<etcd::Result<std::vector<MachineView>>> read_machines(etcd::Client& c,
                                                                      const Keys& k) {
  auto online = co_await range_prefix(c, k.machines(), 0, false);
  if (!online) co_return online.error();
  const int64_t rev = online->header.revision;
  auto seen = co_await range_prefix(c, k.seen(), rev, false);
  if (!seen) co_return seen.error();
  auto assigned = co_await range_prefix(c, k.assigns(), rev, true);
  if (!assigned) co_return assigned.error();

  std::map<std::string, MachineView> by_name;
  for (const auto& kv : seen->kvs) {
    json rec = parse_value(kv.value);
    MachineView& m = by_name[kv.key.substr(k.seen().size())];
    m.labels = labels_of(rec);
    m.address = text_of(rec, "address");
    m.version = text_of(rec, "version");
    m.last_seen_ms = last_seen_of(rec);
  }
  const int64_t now = now_ms();
  for (const auto& kv : online->kvs) {
    json rec = parse_value(kv.value);
    MachineView& m = by_name[kv.key.substr(k.machines().size())];
    m.online = true;
    m.labels = labels_of(rec);
    m.address = text_of(rec, "address");
    m.version = text_of(rec, "version");
    m.last_seen_ms = now;
  }
  for (const auto& kv : assigned->kvs) {
    std::string rest = kv.key.substr(k.assigns().size());
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
  return {{"name", m.name},
          {"labels", m.labels},
          {"state", m.online ? "online" : "unreachable"},
          {"last_seen", m.last_seen_ms ? json(format_rfc3339(std::chrono::milliseconds(
                                             m.last_seen_ms)))
                                       : json(nullptr)},
          {"address", m.address},
          {"running", m.running},
          {"version", m.version}};
}

bool is_final(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "timed_out" || s == "cancelled" ||
         s == "lost";
}

std::string overall_state(const std::vector<RunView>& runs) {
  bool all_final = true, started = false, all_ok = true, cancelled = false;
  for (const auto& r : runs) {
    all_final = all_final && is_final(r.state);
    started = started || (r.state != "assigned" && r.state != "queued");
    all_ok = all_ok && r.state == "succeeded";
    cancelled = cancelled || r.state == "cancelled";
  }
  if (!all_final) return started ? "running" : "queued";
  if (all_ok) return "succeeded";
  return cancelled ? "cancelled" : "failed";
}

std::vector<std::string> job_machines(const json& spec) {
  std::vector<std::string> out;
  if (spec.contains("machines") && spec["machines"].is_array())
    for (const auto& n : spec["machines"])
      if (n.is_string()) out.push_back(n.get<std::string>());
  return out;
}

asio::awaitable<etcd::Result<std::optional<JobView>>> read_job(etcd::Client& c, const Keys& k,
                                                               std::string id, int64_t revision) {
  etcd::RangeRequest r;
  r.key = k.job(id);
  r.revision = revision;
  auto job = co_await c.range(r);
  if (!job) co_return job.error();
  if (job->kvs.empty()) co_return std::optional<JobView>{};
  const int64_t rev = revision ? revision : job->header.revision;
  auto claims = co_await range_prefix(c, k.claims_of(id), rev, true);
  if (!claims) co_return claims.error();
  auto runs = co_await range_prefix(c, k.runs_of(id), rev, false);
  if (!runs) co_return runs.error();

  JobView v;
  v.id = id;
  v.spec = parse_value(job->kvs.front().value);
  v.create_revision = job->kvs.front().create_revision;
  for (const std::string& name : job_machines(v.spec)) {
    RunView run{name, "assigned", json::object()};
    for (const auto& kv : claims->kvs)
      if (kv.key == k.claims_of(id) + name) run.state = "queued";
    for (const auto& kv : runs->kvs)
      if (kv.key == k.runs_of(id) + name) {
        run.record = parse_value(kv.value);
        if (auto s = text_of(run.record, "state"); !s.empty()) run.state = s;
      }
    v.runs.push_back(std::move(run));
  }
  co_return std::optional<JobView>(std::move(v));
}

json job_json(const JobView& j) {
  json out = j.spec;
  out["id"] = j.id;
  out["state"] = overall_state(j.runs);
  json runs = json::array();
  for (const auto& r : j.runs) {
    json one = {{"machine", r.machine}, {"state", r.state}};
    for (const char* f : {"exit_code", "signal", "error", "started_at", "finished_at"})
      one[f] = r.record.contains(f) ? r.record[f] : json(nullptr);
    for (const char* f : {"output_bytes", "output_dropped_bytes", "leftovers_killed"})
      one[f] = r.record.contains(f) ? r.record[f] : json(0);
    runs.push_back(std::move(one));
  }
  out["runs"] = std::move(runs);
  return out;
}

}  // namespace tend::server
