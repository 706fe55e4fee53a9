// JobRequest: what a client asked the agent to run, parsed and validated from the JSON body of
// POST /v1/jobs. Parsing is a pure function (no filesystem, no users database) so it can be
// fuzzed; the checks that need the host (cwd exists, user exists) live in check_on_host().
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tend/error.hpp"
#include "tend/limits.hpp"

namespace tend {

struct JobRequest {
  std::vector<std::string> command;        // either this ...
  std::optional<std::string> script;       // ... or this, run by `interpreter`
  std::string interpreter;                 // sh, bash, python3 or an absolute path
  std::map<std::string, std::string> env;  // added to the agent's environment
  std::optional<std::string> cwd;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::chrono::milliseconds> kill_after;
  std::optional<std::string> user;
  std::optional<std::string> stdin_text;
  std::map<std::string, std::string> labels;
  // The job's resource limits (jobspec/request_limits.hpp). Once the agent has applied its
  // defaults (server/limit_policy.hpp), the limits the job runs with.
  Limits limits;
};

// A bad request names the offending field: Error::stage is the field ("timeout", "command",
// "body"), Error::detail the message for the user.
Expected<JobRequest> parse_job_request(std::string_view body);

// The checks that need this machine: the cwd is a directory, the user exists, an absolute
// interpreter is executable. Same error convention as parse_job_request.
Expected<void> check_on_host(const JobRequest& req);

// The normalized request, as stored and shown back in GET /v1/jobs/{id} (durations as text).
nlohmann::json to_json(const JobRequest& req);
// Reads what to_json wrote (the shim reads the request from the spec on its stdin).
Expected<JobRequest> request_from_json(const nlohmann::json& j);

// The argv the shim executes: the command, or [interpreter, script_path].
std::vector<std::string> job_argv(const JobRequest& req, const std::string& script_path);

}  // namespace tend
