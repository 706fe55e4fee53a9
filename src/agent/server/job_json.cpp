#include "server/job_json.hpp"

#include <sys/stat.h>

#include "tend/time.hpp"

namespace tend::agent {

using json = nlohmann::json;

namespace {

json opt(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}
json opt(const std::optional<int>& v) {
  return v ? json(*v) : json(nullptr);
}
json opt_time(const std::optional<int64_t>& ms) {
  return ms ? json(format_rfc3339(std::chrono::milliseconds(*ms))) : json(nullptr);
}

}  // namespace

json job_json(const JobRecord& rec) {
  json j = {{"id", rec.id}, {"state", to_string(rec.state)}};
  j["exit_code"] = opt(rec.exit_code);
  j["signal"] = opt(rec.signal);
  j["exit_status"] = opt(rec.exit_status);
  j["error"] = rec.error ? json(*rec.error) : json(nullptr);
  j["created_at"] = format_rfc3339(std::chrono::milliseconds(rec.created_ms));
  j["started_at"] = opt_time(rec.started_ms);
  j["finished_at"] = opt_time(rec.finished_ms);
  j["duration_ms"] = opt(rec.duration_ms);
  j["cpu_user_ms"] = opt(rec.cpu_user_ms);
  j["cpu_system_ms"] = opt(rec.cpu_system_ms);
  j["peak_memory_bytes"] = opt(rec.peak_memory_bytes);
  j["output_bytes"] = rec.output_bytes;
  j["output_dropped_bytes"] = rec.output_dropped_bytes;
  j["leftovers_killed"] = rec.leftovers_killed;
  j["reason"] = rec.reason ? json(*rec.reason) : json(nullptr);
  j["limits_level"] = rec.limits_level ? json(*rec.limits_level) : json(nullptr);
  j["oom_killed"] = rec.oom_killed;
  j["oom_kills"] = rec.oom_kills;
  j["peak_processes"] = opt(rec.peak_processes);
  j["pids_refused"] = opt(rec.pids_refused);
  j["cpu_throttled_ms"] = opt(rec.cpu_throttled_ms);
  j["cancel_requested"] = rec.cancel_requested;
  if (rec.request.is_object())
    for (const auto& [k, v] : rec.request.items()) j[k] = v;
  return j;
}

json job_json(const JobRecord& rec, const std::string& jobs_dir) {
  json j = job_json(rec);
  if (rec.state != JobState::running) return j;
  // A file not there yet (the shim has not opened it) is 0 bytes written, as the record says.
  struct stat st {};
  std::string path = jobs_dir + "/" + rec.id + "/output";
  if (::stat(path.c_str(), &st) == 0) j["output_bytes"] = static_cast<int64_t>(st.st_size);
  return j;
}

json live_json(const ScopeFigures& f) {
  auto ms = [](const std::optional<std::chrono::microseconds>& us) {
    return us ? json(std::chrono::duration_cast<std::chrono::milliseconds>(*us).count())
              : json(nullptr);
  };
  auto num = [](const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  return {{"memory_bytes", num(f.memory_bytes)},
          {"processes", num(f.processes)},
          {"cpu_user_ms", ms(f.cpu_user)},
          {"cpu_system_ms", ms(f.cpu_system)}};
}

}  // namespace tend::agent
