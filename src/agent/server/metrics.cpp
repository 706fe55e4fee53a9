#include "server/metrics.hpp"

#include <fmt/format.h>

namespace tend::agent {

void Metrics::observe_spawn(double seconds) {
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++buckets_[i];
  ++spawn_count_;
  spawn_sum_us_ += static_cast<uint64_t>(seconds * 1e6);
}

std::string Metrics::render(const std::map<JobState, int64_t>& by_state) const {
  std::string out;
  out += "# HELP tend_jobs Jobs recorded, by state.\n# TYPE tend_jobs gauge\n";
  for (JobState s : {JobState::queued, JobState::running, JobState::succeeded, JobState::failed,
                     JobState::timed_out, JobState::cancelled, JobState::lost}) {
    auto it = by_state.find(s);
    out += fmt::format("tend_jobs{{state=\"{}\"}} {}\n", to_string(s),
                       it == by_state.end() ? 0 : it->second);
  }
  auto count = [&](JobState s) {
    auto it = by_state.find(s);
    return it == by_state.end() ? int64_t{0} : it->second;
  };
  out +=
      "# HELP tend_jobs_running Jobs whose supervisor is running now.\n# TYPE tend_jobs_running "
      "gauge\n";
  out += fmt::format("tend_jobs_running {}\n", running_.load());
  out += "# HELP tend_jobs_queued Jobs waiting for a free slot.\n# TYPE tend_jobs_queued gauge\n";
  out += fmt::format("tend_jobs_queued {}\n", count(JobState::queued));
  out += "# HELP tend_spawn_seconds Time to start a job's supervisor process.\n";
  out += "# TYPE tend_spawn_seconds histogram\n";
  for (size_t i = 0; i < kBuckets.size(); ++i)
    out +=
        fmt::format("tend_spawn_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[i], buckets_[i].load());
  out += fmt::format("tend_spawn_seconds_bucket{{le=\"+Inf\"}} {}\n", spawn_count_.load());
  out +=
      fmt::format("tend_spawn_seconds_sum {}\n", static_cast<double>(spawn_sum_us_.load()) / 1e6);
  out += fmt::format("tend_spawn_seconds_count {}\n", spawn_count_.load());
  out += "# HELP tend_leftovers_killed_total Processes killed because they outlived their job.\n";
  out += "# TYPE tend_leftovers_killed_total counter\n";
  out += fmt::format("tend_leftovers_killed_total {}\n", leftovers_killed_.load());
  out += "# HELP tend_jobs_oom_killed_total Jobs in which the kernel's OOM killer killed.\n";
  out += "# TYPE tend_jobs_oom_killed_total counter\n";
  out += fmt::format("tend_jobs_oom_killed_total {}\n", oom_killed_.load());
  out += "# HELP tend_jobs_removed_total Finished jobs removed (retention or DELETE).\n";
  out += "# TYPE tend_jobs_removed_total counter\n";
  out += fmt::format("tend_jobs_removed_total {}\n", jobs_removed_.load());
  out += "# HELP tend_orphans_reaped_total Orphans reaped by the agent as PID 1.\n";
  out += "# TYPE tend_orphans_reaped_total counter\n";
  out += fmt::format("tend_orphans_reaped_total {}\n", orphans_reaped_.load());
  return out;
}

}  // namespace tend::agent
