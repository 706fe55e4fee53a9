// tend: dispatches `tend SUBCOMMAND ...` to the face that implements it.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "agent_face.hpp"
#include "doctor_face.hpp"
#include "init_face.hpp"
#include "run_face.hpp"

namespace {

constexpr const char* kUsage =
    "usage: tend COMMAND [OPTIONS]\n"
    "\n"
    "  run     run a command with a timeout, containing its whole process tree\n"
    "  init    be PID 1 (or a subreaper): reap, forward signals, stop everything gracefully\n"
    "  doctor  show what this kernel offers and the containment level in force\n"
    "  agent   the job service: HTTP API, durable records, web page\n"
    "  submit, jobs, logs, cancel   talk to a running agent\n"
    "\n"
    "`tend COMMAND --help` for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 125;
  }
  std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::puts("tend " TEND_VERSION);
    return 0;
  }
  // Each face parses its own arguments; argv[0] becomes "tend SUBCOMMAND" for messages.
  if (cmd == "run") return tend::run_face::main(argc - 1, argv + 1);
  if (cmd == "init") return tend::init_face::main(argc - 1, argv + 1);
  if (cmd == "doctor") return tend::doctor_face::main(argc - 1, argv + 1);
  if (int rc = tend::agent_face::dispatch(cmd, argc - 1, argv + 1); rc != tend::agent_face::kNotMine)
    return rc;
  std::fprintf(stderr, "tend: unknown command '%s' (try: tend --help)\n", argv[1]);
  return 125;
}
