// Command line of `tend run`: parsing and validation into a RunOptions value. Nothing here starts
// a process; every mistake comes back as one sentence for the user.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tend/error.hpp"
#include "tend/job.hpp"
#include "tend/parse.hpp"
#include "tend/scope.hpp"

namespace tend::run_face {

struct RunOptions {
  std::vector<std::string> argv;         // the command
  std::chrono::milliseconds timeout{0};  // 0: none
  std::chrono::milliseconds kill_after{10'000};
  int signal = SIGTERM;
  OrphanPolicy orphans = OrphanPolicy::kill;
  bool preserve_status = false;
  std::optional<std::string> json_path;  // "-": stderr
  std::optional<std::string> output_path;
  std::optional<std::string> cwd;
  std::vector<std::pair<std::string, std::string>> env_set;
  std::vector<std::string> env_unset;
  bool clear_env = false;
  std::optional<std::string> user, group;
  std::optional<ScopeLevel> scope;
  Limits limits;  // --memory, --memory-high, --swap, --pids, --cpu
  bool verbose = false;
};

// What the parser decided: run with these options, or exit now with `exit_code` (--help).
struct ParsedArgs {
  std::optional<RunOptions> options;
  int exit_code = 0;
};

// argv[0] is "run". An Error's detail is the sentence to print after "tend: ".
Expected<ParsedArgs> parse_args(int argc, char** argv);
// parse_args in the faces' convention (tend/parse.hpp): a mistake is printed here, status 125.
ParseOutcome<RunOptions> parse_options(int argc, char** argv);

// Builds the job's Command (user and group looked up, --cwd checked) and the JobOptions.
Expected<Command> build_command(const RunOptions& o);
JobOptions build_job_options(const RunOptions& o);

}  // namespace tend::run_face
