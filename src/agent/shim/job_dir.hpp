// The layout of a job's directory, shared by the agent and the job's supervisor (the shim).
// Every file created costs an inode (the dearest part of a short job), so only what must be on
// disk is: the spec reaches the shim on its stdin, and a cgroup's name is known in advance.
//   stdin        the request's stdin text, if any;  script: the request's script, if any
//   output       stdout+stderr, merged in write order, head + tail bounded (tend::FileOutput)
//   output.times when the output arrived: (output offset, unix ms) records (shim/output_times.hpp)
//   scope.json   session level only: the job's session id, so the agent can kill it if the
//                shim dies (a cgroup is found by its name, job_cgroup_name)
//   result.json  tend::to_json(Result), written and fsync'ed by the shim before it exits
//   shim.log     the shim's own diagnostics, only if it has any
// When the agent records a new state it touches the directory's times: that wakes output
// followers (inotify IN_ATTRIB) without creating a file.
#pragma once

#include <string>

namespace tend::agent {

// The job's cgroup, made by its shim under the shim's own cgroup (which is the agent's).
// `agent_tag`: empty for a single agent (its job ids are its own); a fleet agent's fleet id,
// because a fleet job has the same id on every machine, and agents may share a cgroup (several
// on one host, as the fleet's tests and scripts/fleet.sh run them).
inline std::string job_cgroup_name(const std::string& agent_tag, const std::string& id) {
  return agent_tag.empty() ? "tend-job-" + id : "tend-job-" + agent_tag + "-" + id;
}

struct JobDir {
  std::string path;
  std::string stdin_file() const { return path + "/stdin"; }
  std::string script() const { return path + "/script"; }
  std::string output() const { return path + "/output"; }
  std::string output_times() const { return path + "/output.times"; }
  std::string scope() const { return path + "/scope.json"; }
  std::string result() const { return path + "/result.json"; }
  std::string shim_log() const { return path + "/shim.log"; }
};

}  // namespace tend::agent
