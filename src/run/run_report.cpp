#include "run_report.hpp"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "tend/parse.hpp"

namespace tend::run_face {

std::string spawn_failure_sentence(const Result& r, const RunOptions& o) {
  if (!r.error) return "the command did not start";
  const Error& e = *r.error;
  if (e.kind == ErrorKind::exec) {
    const std::string& prog = e.path.empty() ? o.argv.front() : e.path;
    if (e.code == ENOENT && prog.find('/') == std::string::npos)
      return prog + ": command not found";
    if (e.command_not_found()) return prog + ": " + errno_text(e.code);
    return "cannot execute " + prog + ": " + errno_text(e.code);
  }
  // The output file is opened for the child: name the option that chose it.
  if (o.output_path && e.path == *o.output_path && e.code != 0)
    return "--output " + e.path + ": " + errno_text(e.code);
  return e.message();
}

std::string describe_limits(const Limits& l) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (l.memory_max) add("memory " + format_size(*l.memory_max));
  if (l.memory_high) add("memory high " + format_size(*l.memory_high));
  if (l.swap_max) add("swap " + format_size(*l.swap_max));
  if (l.pids_max) add("pids " + std::to_string(*l.pids_max));
  if (l.cpus) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "cpu %g", *l.cpus);
    add(buf);
  }
  if (l.cpu_weight) add("cpu weight " + std::to_string(*l.cpu_weight));
  return out;
}

void print_start(const Job& job) {
  const Scope* scope = job.scope();
  if (scope && scope->level() == ScopeLevel::cgroup) {
    std::fprintf(stderr, "tend: scope: cgroup %s (strong: nothing can leave it)\n",
                 scope->cgroup_path().c_str());
  } else {
    std::fprintf(stderr,
                 "tend: scope: session (weaker: a process that double-forks and calls setsid "
                 "between two sweeps can escape)\n");
  }
  if (scope && scope->limits_level() != LimitsLevel::none)
    std::fprintf(stderr, "tend: limits: %s through %s\n", describe_limits(scope->limits()).c_str(),
                 to_string(scope->limits_level()));
  std::fprintf(stderr, "tend: spawn: %s, pid %d\n", to_string(job.result().spawn_level),
               static_cast<int>(job.pid()));
}

void print_summary(const Result& r, int exit_code) {
  // "tend: timed_out after 1.003s: killed by SIGTERM (sent SIGTERM), exit 124, 1 leftover killed"
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.elapsed);
  std::string line = std::string(to_string(r.reason)) + " after " + format_duration(ms);
  if (r.status) line += ": " + r.describe();
  if (r.stop_signal > 0 && r.reason != EndReason::exited)
    line += " (sent " + signal_name(r.stop_signal) + (r.killed ? ", then SIGKILL)" : ")");
  line += ", exit " + std::to_string(exit_code) + ", " + std::to_string(r.leftovers_killed) +
          (r.leftovers_killed == 1 ? " leftover killed" : " leftovers killed");
  if (r.oom_killed && !r.main_oom_killed())
    line += ", " + std::to_string(r.oom_kills) + " killed for memory";
  if (r.pids_refused && *r.pids_refused > 0)
    line += ", " + std::to_string(*r.pids_refused) + " forks refused";
  if (r.leftovers_left > 0) line += ", " + std::to_string(r.leftovers_left) + " left running";
  std::fprintf(stderr, "tend: %s\n", line.c_str());
}

Expected<JsonSink> JsonSink::open(const std::optional<std::string>& path) {
  JsonSink sink;
  if (!path) return sink;
  sink.path_ = *path;
  if (*path == "-") {
    sink.file_ = stderr;
    return sink;
  }
  // "e": O_CLOEXEC, so the job never inherits it.
  sink.file_ = std::fopen(path->c_str(), "we");
  if (!sink.file_) {
    const int code = errno;
    return Error::usage("--json " + *path + ": " + errno_text(code));
  }
  sink.owned_ = true;
  return sink;
}

JsonSink::~JsonSink() {
  if (file_ && owned_) std::fclose(file_);
}

Expected<void> JsonSink::write(const Result& r) {
  if (!file_) return {};
  std::string line = to_json(r).dump() + "\n";
  bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size();
  ok = (std::fflush(file_) == 0) && ok;
  if (!ok) return Error::from_errno("write --json", path_);
  return {};
}

}  // namespace tend::run_face
