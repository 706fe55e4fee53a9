// The environment a job starts with: a clean one, as systemd gives a service, never the agent's
// own (which may hold the API token or cloud credentials). Built from the job's user, what the
// agent chose to pass on (locale, time zone, --pass-env), the job's id and the request's env.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tend::agent {

// PATH when neither --pass-env PATH nor the request sets one.
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct JobIdentity {
  std::string home, user, shell;
};

struct JobEnvInput {
  std::map<std::string, std::string> passed;  // from the agent: LANG, LC_*, TZ, --pass-env
  std::optional<JobIdentity> identity;        // the job's user, when known
  std::string job_id;
  bool python = false;                         // a python script: PYTHONUNBUFFERED=1
  std::map<std::string, std::string> request;  // the request's env: wins over the rest
};

// KEY=VALUE pairs, later entries of the same key overriding nothing: one value per key.
std::map<std::string, std::string> job_environment(const JobEnvInput& in);

// What the agent passes on from its own environment: LANG, LANGUAGE, LC_*, TZ when set, and
// each name in `pass_env` that is set. `environ_entries`: the agent's environment (KEY=VALUE).
std::map<std::string, std::string> passed_environment(
    const std::vector<std::string>& environ_entries, const std::vector<std::string>& pass_env);

}  // namespace tend::agent
