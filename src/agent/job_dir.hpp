// The layout of a job's directory, shared by the agent and the job's supervisor (the shim):
//   spec.json    what to run (written by the agent before the shim starts)
//   stdin        the request's stdin text, if any;  script: the request's script, if any
//   output       stdout+stderr, merged in write order, head + tail bounded (tend::FileOutput)
//   scope.json   where the job's processes are (cgroup path or session id), by the shim
//   result.json  tend::to_json(Result), written atomically by the shim when the job is over
//   shim.log     the shim's own stderr
//   shim.pid     "PID STARTTIME" of the shim, by the shim first thing (re-attach if the agent
//                died before recording it)
// When the agent records a new state it touches the directory's times: that wakes output
// followers (inotify IN_ATTRIB) without creating a file.
#pragma once

#include <string>

namespace tend::agent {

// The job's cgroup, made by its shim under the shim's own cgroup (which is the agent's).
inline std::string job_cgroup_name(const std::string& id) {
  return "tend-job-" + id;
}

struct JobDir {
  std::string path;
  std::string spec() const { return path + "/spec.json"; }
  std::string stdin_file() const { return path + "/stdin"; }
  std::string script() const { return path + "/script"; }
  std::string output() const { return path + "/output"; }
  std::string scope() const { return path + "/scope.json"; }
  std::string result() const { return path + "/result.json"; }
  std::string shim_log() const { return path + "/shim.log"; }
  std::string shim_pid() const { return path + "/shim.pid"; }
};

}  // namespace tend::agent
