#include "server/job_state.hpp"

namespace tend::agent {

const char* to_string(JobState s) {
  switch (s) {
    case JobState::queued:
      return "queued";
    case JobState::running:
      return "running";
    case JobState::succeeded:
      return "succeeded";
    case JobState::failed:
      return "failed";
    case JobState::timed_out:
      return "timed_out";
    case JobState::cancelled:
      return "cancelled";
    case JobState::lost:
      return "lost";
  }
  return "lost";
}

std::optional<JobState> job_state_from_string(std::string_view s) {
  for (JobState st : {JobState::queued, JobState::running, JobState::succeeded, JobState::failed,
                      JobState::timed_out, JobState::cancelled, JobState::lost})
    if (s == to_string(st)) return st;
  return std::nullopt;
}

}  // namespace tend::agent
