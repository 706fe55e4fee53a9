// The states of an agent job (docs/api.md): queued -> running -> one final state.
#pragma once

#include <optional>
#include <string_view>

namespace tend::agent {

enum class JobState { queued, running, succeeded, failed, timed_out, cancelled, lost };
const char* to_string(JobState);
std::optional<JobState> job_state_from_string(std::string_view);
inline bool is_final(JobState s) {
  return s != JobState::queued && s != JobState::running;
}

}  // namespace tend::agent
