// What `tend run` says on stderr: spawn failures, --verbose lines, the --json record.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "run_options.hpp"
#include "tend/job.hpp"
#include "tend/result.hpp"

namespace tend::run_face {

// "cannot execute ./job.sh: Permission denied", "nope: command not found", ...
std::string spawn_failure_sentence(const Result& r, const RunOptions& o);
// "memory 64 MiB, pids 50, cpu 0.2"
std::string describe_limits(const Limits& l);
// --verbose, once the job started: the scope level (and cgroup), the spawn level, the pid.
void print_start(const Job& job);
// --verbose, at the end: "tend: timed_out after 1.002s (killed by SIGTERM), exit 124, ...".
void print_summary(const Result& r, int exit_code);

// The --json destination, opened before the job starts so that a bad path starts nothing.
class JsonSink {
 public:
  static Expected<JsonSink> open(const std::optional<std::string>& path);
  JsonSink(JsonSink&& o) noexcept : file_(o.file_), owned_(o.owned_), path_(std::move(o.path_)) {
    o.file_ = nullptr;
  }
  JsonSink(const JsonSink&) = delete;
  JsonSink& operator=(const JsonSink&) = delete;
  JsonSink& operator=(JsonSink&&) = delete;
  ~JsonSink();
  // Writes one line of JSON; an Error names the file.
  Expected<void> write(const Result& r);

 private:
  JsonSink() = default;
  FILE* file_ = nullptr;
  bool owned_ = false;
  std::string path_;
};

}  // namespace tend::run_face
