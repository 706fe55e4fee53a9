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

}  // namespace tend::agent
