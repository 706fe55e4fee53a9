// tend: dispatches `tend SUBCOMMAND ...` to the face that implements it.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "agent_face.hpp"
#include "completion_face.hpp"
#include "doctor_face.hpp"
#include "init_face.hpp"
#include "run_face.hpp"
#include "tend/error.hpp"
#include "tend/process.hpp"
#include "timeout_face.hpp"

namespace {

constexpr const char* kUsage =
    "usage: tend COMMAND [OPTIONS]\n"
    "\n"
    "  run     run a command with a timeout, containing its whole process tree\n"
    "  timeout GNU timeout's command line on tend run's containment\n"
    "  init    be PID 1 (or a subreaper): reap, forward signals, stop everything gracefully\n"
    "  doctor  show what this kernel offers and the containment level in force\n"
    "  agent   the job service: HTTP API, durable records, web page\n"
    "  server  the fleet's control plane: one API and page for many agents, on etcd\n"
    "  submit, jobs, logs, cancel, rm   talk to a running agent or server\n"
    "  machines   list the machines of a fleet (from a server)\n"
    "  completion  print the bash or zsh completion script\n"
    "\n"
    "`tend COMMAND --help` for a command's options.\n";

// The agent and its clients are the tend-agent program installed beside this one, the fleet's
// server the tend-server program.
int exec_sibling(const char* program, int argc, char** argv) {
  auto sibling = tend::sibling_executable(program);
  if (!sibling) {
    std::fprintf(stderr, "tend: cannot find %s: %s\n", program, sibling.error().message().c_str());
    return 125;
  }
  const std::string& path = *sibling;
  std::vector<char*> args;
  args.push_back(const_cast<char*>(program));
  for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(path.c_str(), args.data());
  const int code = errno;
  std::fprintf(stderr, "tend: cannot run %s: %s (it is installed beside tend)\n", path.c_str(),
               tend::errno_text(code).c_str());
  return 125;
}

// What argv[0] names, without its directory: "timeout" for /usr/bin/timeout.
std::string_view invoked_as(const char* argv0) {
  std::string_view name = argv0 ? argv0 : "";
  if (auto slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  // Multi-call: installed or linked as `timeout` or `tini`, tend is that tool (argv[0] unchanged,
  // so messages name it as the user typed it, as GNU timeout and tini do).
  const std::string_view self = invoked_as(argv[0]);
  if (self == "timeout") return tend::timeout_face::main(argc, argv);
  if (self == "tini") return tend::init_face::tini_main(argc, argv);
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
  // Each face parses its own arguments; argv[0] becomes the subcommand for messages.
  if (cmd == "run") return tend::run_face::main(argc - 1, argv + 1);
  if (cmd == "timeout") return tend::timeout_face::main(argc - 1, argv + 1);
  if (cmd == "init") return tend::init_face::main(argc - 1, argv + 1);
  if (cmd == "doctor") return tend::doctor_face::main(argc - 1, argv + 1);
  if (cmd == "completion") return tend::completion_face::main(argc - 1, argv + 1);
  if (cmd == "agent-shim") return tend::agent::shim_main(argc - 1, argv + 1);
  if (tend::agent::is_agent_command(cmd)) return exec_sibling("tend-agent", argc - 1, argv + 1);
  if (cmd == "server") return exec_sibling("tend-server", argc - 1, argv + 1);
  std::fprintf(stderr, "tend: unknown command '%s' (try: tend --help)\n", argv[1]);
  return 125;
}
