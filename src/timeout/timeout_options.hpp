// The command line of `tend timeout`, read exactly as GNU timeout reads it (getopt_long with
// "+k:s:v", abbreviated long options, DURATION as strtod reads it, signals as numbers, names or
// shell exit statuses). Nothing here starts a process.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tend::timeout_face {

struct TimeoutOptions {
  std::string program;                      // argv[0], the prefix of every message
  std::vector<std::string> command;         // COMMAND [ARG]...
  std::chrono::milliseconds timeout{0};     // 0: none
  std::chrono::milliseconds kill_after{0};  // 0: never SIGKILL
  int signal = SIGTERM;                     // 0 ("EXIT"): only SIGKILL after -k ends the command
  bool preserve_status = false;
  bool foreground = false;
  bool verbose = false;
};

// Options to run with, or the status to exit with now (0 after --help/--version, 125 after a
// mistake, whose message is already on stderr).
struct ParsedTimeout {
  std::optional<TimeoutOptions> options;
  int exit_code = 0;
};
ParsedTimeout parse_timeout_args(int argc, char** argv);

// GNU's name of a signal in messages: "TERM", "KILL", "EXIT" for 0, "RTMIN+2".
std::string gnu_signal_name(int sig);

}  // namespace tend::timeout_face
