#include "timeout_options.hpp"

#include <getopt.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "tend/parse.hpp"

namespace tend::timeout_face {
namespace {

enum LongOnly { kForeground = CHAR_MAX + 1, kPreserveStatus, kHelp, kVersion };

constexpr struct option kLongOptions[] = {
    {"kill-after", required_argument, nullptr, 'k'},
    {"signal", required_argument, nullptr, 's'},
    {"verbose", no_argument, nullptr, 'v'},
    {"foreground", no_argument, nullptr, kForeground},
    {"preserve-status", no_argument, nullptr, kPreserveStatus},
    {"help", no_argument, nullptr, kHelp},
    {"version", no_argument, nullptr, kVersion},
    {nullptr, 0, nullptr, 0},
};

constexpr const char* kHelpText =
    "Usage: %1$s [OPTION] DURATION COMMAND [ARG]...\n"
    "  or:  %1$s [OPTION]\n"
    "Start COMMAND, and kill it if still running after DURATION.\n"
    "Unlike GNU timeout, everything COMMAND starts is contained and stopped with it (tend's\n"
    "scope: setsid and double-forks included).\n"
    "\n"
    "Mandatory arguments to long options are mandatory for short options too.\n"
    "      --preserve-status\n"
    "                 exit with the same status as COMMAND, even when the\n"
    "                   command times out\n"
    "      --foreground\n"
    "                 accepted for compatibility: tend never moves COMMAND out of the\n"
    "                   terminal's foreground, and always stops its whole tree\n"
    "  -k, --kill-after=DURATION\n"
    "                 also send a KILL signal if COMMAND is still running\n"
    "                   this long after the initial signal was sent\n"
    "  -s, --signal=SIGNAL\n"
    "                 specify the signal to be sent on timeout;\n"
    "                   SIGNAL may be a name like 'HUP' or a number (0 or EXIT: none);\n"
    "                   see 'kill -l' for a list of signals\n"
    "  -v, --verbose  diagnose to stderr any signal sent upon timeout\n"
    "      --help        display this help and exit\n"
    "      --version     output version information and exit\n"
    "\n"
    "DURATION is a floating point number with an optional suffix:\n"
    "'s' for seconds (the default), 'm' for minutes, 'h' for hours or 'd' for days.\n"
    "A duration of 0 disables the associated timeout.\n"
    "\n"
    "Upon timeout, send the TERM signal to COMMAND, if no other SIGNAL specified.\n"
    "\n"
    "Exit status:\n"
    "  124  if COMMAND times out, and --preserve-status is not specified\n"
    "  125  if the timeout command itself fails\n"
    "  126  if COMMAND is found but cannot be invoked\n"
    "  127  if COMMAND cannot be found\n"
    "  137  if COMMAND (or timeout itself) is sent the KILL (9) signal (128+9)\n"
    "  -    the exit status of COMMAND otherwise\n";

int bad_usage(const char* program) {
  std::fprintf(stderr, "Try '%s --help' for more information.\n", program);
  return 125;
}

// GNU's operand2sig: a number (a shell's 128+N or 256+N status names signal N), or a name with
// or without SIG, any case; "EXIT" is 0. -1 if it names no signal.
int parse_gnu_signal(const std::string& text) {
  if (!text.empty() && text[0] >= '0' && text[0] <= '9') {
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || errno != 0 || n > INT_MAX) return -1;
    int sig = static_cast<int>(n);
    sig &= sig >= 0xFF ? 0xFF : 0x7F;
    if (sig == 0) return 0;
    return parse_signal(std::to_string(sig)).ok() ? sig : -1;
  }
  std::string upper = text;
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (upper == "EXIT" || upper == "SIGEXIT") return 0;
  auto sig = parse_signal(upper);
  return sig ? *sig : -1;
}

// Reads a GNU duration into `out`; false, with GNU's message printed, when it is not one.
bool read_duration(const char* program, const char* text, std::chrono::milliseconds& out) {
  auto d = parse_gnu_duration(text);
  if (!d) {
    std::fprintf(stderr, "%s: %s\n", program, d.error().detail.c_str());
    return false;
  }
  out = *d;
  return true;
}

}  // namespace

std::string gnu_signal_name(int sig) {
  if (sig == 0) return "EXIT";
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    // gnulib's sig2str: the lower half counts up from RTMIN, the upper half down from RTMAX.
    const int half = (SIGRTMAX - SIGRTMIN) / 2;
    if (sig == SIGRTMIN) return "RTMIN";
    if (sig == SIGRTMAX) return "RTMAX";
    if (sig - SIGRTMIN <= half) return "RTMIN+" + std::to_string(sig - SIGRTMIN);
    return "RTMAX-" + std::to_string(SIGRTMAX - sig);
  }
  std::string name = signal_name(sig);
  return name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
}

ParsedTimeout parse_timeout_args(int argc, char** argv) {
  TimeoutOptions o;
  o.program = argv[0];
  const char* program = argv[0];
  optind = 0;  // a full re-initialisation of getopt, whatever ran before us
  opterr = 1;  // getopt's own messages ("invalid option -- 'x'") are GNU's
  for (;;) {
    int c = ::getopt_long(argc, argv, "+k:s:v", kLongOptions, nullptr);
    if (c == -1) break;
    switch (c) {
      case 'k':
        if (!read_duration(program, optarg, o.kill_after))
          return {std::nullopt, bad_usage(program)};
        break;
      case 's':
        o.signal = parse_gnu_signal(optarg);
        if (o.signal < 0) {
          std::fprintf(stderr, "%s: '%s': invalid signal\n", program, optarg);
          return {std::nullopt, bad_usage(program)};
        }
        break;
      case 'v':
        o.verbose = true;
        break;
      case kForeground:
        o.foreground = true;
        break;
      case kPreserveStatus:
        o.preserve_status = true;
        break;
      case kHelp:
        std::printf(kHelpText, program);
        return {std::nullopt, std::fflush(stdout) == 0 && !std::ferror(stdout) ? 0 : 125};
      case kVersion:
        std::printf("timeout (tend) %s\n", TEND_VERSION);
        return {std::nullopt, std::fflush(stdout) == 0 && !std::ferror(stdout) ? 0 : 125};
      default:
        return {std::nullopt, bad_usage(program)};
    }
  }
  if (argc - optind < 2) {
    if (argc - optind == 0)
      std::fprintf(stderr, "%s: missing operand\n", program);
    else
      std::fprintf(stderr, "%s: missing operand after '%s'\n", program, argv[optind]);
    return {std::nullopt, bad_usage(program)};
  }
  if (!read_duration(program, argv[optind], o.timeout)) return {std::nullopt, bad_usage(program)};
  o.command.assign(argv + optind + 1, argv + argc);
  return {std::move(o), 0};
}

}  // namespace tend::timeout_face
