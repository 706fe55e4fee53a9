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

namespace {

constexpr const char* kUsage =
    "usage: tend COMMAND [OPTIONS]\n"
    "\n"
    "  run     run a command with a timeout, containing its whole process tree\n"
    "  init    be PID 1 (or a subreaper): reap, forward signals, stop everything gracefully\n"
    "  doctor  show what this kernel offers and the containment level in force\n"
    "  agent   the job service: HTTP API, durable records, web page\n"
    "  submit, jobs, logs, cancel   talk to a running agent\n"
    "  completion  print the bash or zsh completion script\n"
    "\n"
    "`tend COMMAND --help` for a command's options.\n";

// The agent and its clients are the tend-agent program installed beside this one.
int exec_tend_agent(int argc, char** argv) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  std::string path = self.substr(0, self.rfind('/') + 1) + "tend-agent";
  std::vector<char*> args;
  args.push_back(const_cast<char*>("tend-agent"));
  for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(path.c_str(), args.data());
  std::fprintf(stderr, "tend: cannot run %s: %s (it is installed beside tend)\n", path.c_str(),
               std::strerror(errno));
  return 125;
}

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
  // Each face parses its own arguments; argv[0] becomes the subcommand for messages.
  if (cmd == "run") return tend::run_face::main(argc - 1, argv + 1);
  if (cmd == "init") return tend::init_face::main(argc - 1, argv + 1);
  if (cmd == "doctor") return tend::doctor_face::main(argc - 1, argv + 1);
  if (cmd == "completion") return tend::completion_face::main(argc - 1, argv + 1);
  if (cmd == "agent-shim") return tend::agent::shim_main(argc - 1, argv + 1);
  if (tend::agent::is_agent_command(cmd)) return exec_tend_agent(argc - 1, argv + 1);
  std::fprintf(stderr, "tend: unknown command '%s' (try: tend --help)\n", argv[1]);
  return 125;
}
