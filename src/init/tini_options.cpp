// tini's command line, read into tend init's Options. getopt as tini does, but never permuting:
// the first word that is not an option starts COMMAND (tini needs POSIXLY_CORRECT or `--` for
// that; with tend both spellings work).
#include <getopt.h>
#include <libgen.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "options.hpp"
#include "tend/parse.hpp"

namespace tend::init_face {
namespace {

constexpr int kBadUsage = 1;  // tini's status for every mistake on its command line

void print_usage(const char* program, FILE* out) {
  std::string copy(program);
  const char* name = ::basename(copy.data());
  std::fprintf(out,
               "%1$s (tend %2$s, tini's command line)\n"
               "Usage: %1$s [OPTIONS] PROGRAM -- [ARGS] | --version\n\n"
               "Execute a program under the supervision of a valid init process (tend init)\n\n"
               "Command line options:\n\n"
               "  --version: Show version and exit.\n"
               "  -h: Show this help message and exit.\n"
               "  -s: Register as a process subreaper (always done: accepted for tini).\n"
               "  -p SIGNAL: Trigger SIGNAL when parent dies, e.g. \"-p SIGKILL\".\n"
               "  -v: Generate more verbose output. Repeat up to 3 times.\n"
               "  -w: Print a warning when processes are getting reaped.\n"
               "  -g: Send signals to the child's process group.\n"
               "  -e EXIT_CODE: Remap EXIT_CODE (from 0 to 255) to 0.\n"
               "  -l: Show license and exit.\n\n"
               "Environment variables:\n\n"
               "  TINI_SUBREAPER: Register as a process subreaper (always done).\n"
               "  TINI_VERBOSITY: Set the verbosity level (default: 1).\n"
               "  TINI_KILL_PROCESS_GROUP: Send signals to the child's process group.\n\n"
               "On SIGTERM/SIGINT every process the program started is stopped (SIGKILL after\n"
               "10 s); `tend init --help` lists tend's own options.\n",
               name, TEND_VERSION);
}

void fatal(const std::string& sentence) {
  std::fprintf(stderr, "[FATAL tini (%d)] %s\n", static_cast<int>(::getpid()), sentence.c_str());
}

}  // namespace

ParseOutcome<Options> parse_tini_options(int argc, char** argv) {
  Options opt;
  opt.tini.on = true;
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::printf("tini version 0.19.0 (tend %s)\n", TEND_VERSION);
    return ExitNow{0};
  }
  // The environment first, as tini reads it; flags add to it.
  if (const char* v = std::getenv("TINI_VERBOSITY")) opt.tini.verbosity = std::atoi(v);
  if (std::getenv("TINI_KILL_PROCESS_GROUP")) opt.forward_to = ForwardTo::group;
  // TINI_SUBREAPER and -s: tend init is a subreaper whenever it is not PID 1.

  optind = 0;
  opterr = 1;
  for (int c; (c = ::getopt(argc, argv, "+p:hvwgle:s")) != -1;) {
    switch (c) {
      case 'h':
        print_usage(argv[0], stdout);
        return ExitNow{0};
      case 's':
        break;
      case 'p': {
        auto sig = parse_signal(optarg);
        if (!sig) {
          fatal(std::string("Not a valid option for -p: ") + optarg);
          return ExitNow{kBadUsage};
        }
        opt.parent_death_signal = *sig;
        break;
      }
      case 'v':
        ++opt.tini.verbosity;
        break;
      case 'w':
        opt.tini.warn_on_reap = true;
        break;
      case 'g':
        opt.forward_to = ForwardTo::group;
        break;
      case 'e': {
        char* end = nullptr;
        long code = std::strtol(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || code < 0 || code > 255) {
          fatal(std::string("Not a valid option for -e: ") + optarg);
          return ExitNow{kBadUsage};
        }
        opt.success_codes.push_back(static_cast<int>(code));
        break;
      }
      case 'l':
        std::puts(
            "tend is not tini: it takes tini's command line but shares none of its code.\n"
            "tend's license is in its source distribution.");
        return ExitNow{0};
      default:  // getopt said what was wrong
        print_usage(argv[0], stderr);
        return ExitNow{kBadUsage};
    }
  }
  if (optind >= argc) {
    print_usage(argv[0], stderr);
    return ExitNow{kBadUsage};
  }
  opt.command.assign(argv + optind, argv + argc);
  opt.verbose = opt.tini.verbosity > 2;
  return opt;
}

}  // namespace tend::init_face
