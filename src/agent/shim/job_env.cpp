#include "shim/job_env.hpp"

#include <algorithm>

namespace tend::agent {

std::map<std::string, std::string> job_environment(const JobEnvInput& in) {
  std::map<std::string, std::string> env = in.passed;
  env.try_emplace("PATH", kDefaultPath);
  if (in.identity) {
    env["HOME"] = in.identity->home;
    env["USER"] = env["LOGNAME"] = in.identity->user;
    env["SHELL"] = in.identity->shell.empty() ? "/bin/sh" : in.identity->shell;
  }
  // Python buffers stdout when it is not a terminal: the output would arrive only at exit.
  if (in.python) env["PYTHONUNBUFFERED"] = "1";
  for (const auto& [k, v] : in.request) env[k] = v;
  // Last: how the agent finds a job's processes when its supervisor has died.
  env["TEND_JOB_ID"] = in.job_id;
  return env;
}

std::map<std::string, std::string> passed_environment(
    const std::vector<std::string>& environ_entries, const std::vector<std::string>& pass_env) {
  std::map<std::string, std::string> out;
  for (const std::string& entry : environ_entries) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string name = entry.substr(0, eq);
    bool locale = name == "LANG" || name == "LANGUAGE" || name == "TZ" || name.rfind("LC_", 0) == 0;
    bool asked = std::find(pass_env.begin(), pass_env.end(), name) != pass_env.end();
    if (locale || asked) out[name] = entry.substr(eq + 1);
  }
  return out;
}

}  // namespace tend::agent
