#include "run_options.hpp"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "run_credentials.hpp"
#include "tend/parse.hpp"

namespace tend::run_face {
namespace {

Error usage(std::string sentence) {
  return Error::usage(std::move(sentence));
}

constexpr const char* kDescription =
    "Run COMMAND with a timeout, containing its whole process tree: everything it starts is\n"
    "stopped with it (setsid and double-forks included).\n"
    "\n"
    "Exit status: the command's own; 128+N if killed by signal N; 124 on timeout (137 if SIGKILL\n"
    "was needed; --preserve-status: the command's own); 128+N when tend was stopped by signal N;\n"
    "126 not executable; 127 not found; 125 tend itself failed or a bad option.\n";

// CLI11 would print "Usage: tend run [OPTIONS]": the command is the part that matters.
class RunFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App*, std::string) const override {
    return "Usage: tend run [OPTIONS] [--] COMMAND [ARG...]\n";
  }
};

Expected<ScopeLevel> parse_scope(const std::string& what, const std::string& v) {
  if (v == "cgroup") return ScopeLevel::cgroup;
  if (v == "session") return ScopeLevel::session;
  return usage(what + " '" + v + "': expected cgroup or session");
}

// The limits given on the command line; each value checked, then the whole set (validate()).
Expected<void> parse_limits(const std::string& memory, const std::string& memory_high,
                            const std::string& swap, const std::string& pids,
                            const std::string& cpu, Limits& out) {
  for (auto [flag, text, field] : {std::tuple{"--memory", &memory, &out.memory_max},
                                   std::tuple{"--memory-high", &memory_high, &out.memory_high},
                                   std::tuple{"--swap", &swap, &out.swap_max}}) {
    if (text->empty()) continue;
    auto n = parse_size(*text);
    if (!n) return usage(std::string(flag) + " " + n.error().detail);
    *field = *n;
  }
  if (!pids.empty()) {
    auto n = parse_count(pids);
    if (!n) return usage("--pids " + n.error().detail + " (processes)");
    out.pids_max = *n;
  }
  if (!cpu.empty()) {
    auto n = parse_cpus(cpu);
    if (!n) return usage("--cpu " + n.error().detail);
    out.cpus = *n;
  }
  if (std::string bad = validate(out); !bad.empty()) return usage(bad);
  return {};
}

}  // namespace

Expected<ParsedArgs> parse_args(int argc, char** argv) {
  CLI::App app{kDescription, "tend run"};
  app.formatter(std::make_shared<RunFormatter>());
  std::string timeout, kill_after, signal, orphans, scope;
  std::string memory, memory_high, swap, pids, cpu;
  std::vector<std::string> env_set;
  RunOptions o;
  app.add_option("-t,--timeout", timeout,
                 "stop the job after DURATION (1.5, 500ms, 30s, 5m, 2h; bare number: seconds; "
                 "0: no timeout)")
      ->type_name("DURATION");
  app.add_option("-k,--kill-after", kill_after,
                 "grace between the stop signal and SIGKILL (default 10s)")
      ->type_name("DURATION");
  app.add_option("-s,--signal", signal, "stop signal, name or number (default TERM)")
      ->type_name("SIG");
  app.add_option("--orphans", orphans,
                 "when the command exits leaving processes behind: kill them (default), wait for "
                 "them (bounded by --timeout), or leave them running")
      ->type_name("kill|wait|leave");
  app.add_flag("--preserve-status", o.preserve_status,
               "on timeout, exit with the command's own status instead of 124");
  app.add_option("--json", o.json_path, "write the result as JSON to FILE ('-': stderr)")
      ->type_name("FILE");
  app.add_option("--output", o.output_path,
                 "send the command's stdout and stderr (merged) to FILE instead of passing them "
                 "through")
      ->type_name("FILE");
  app.add_option("--cwd", o.cwd, "run the command in DIR")->type_name("DIR");
  app.add_option("--env", env_set, "set K=V in the command's environment (repeatable)")
      ->type_name("K=V")
      ->allow_extra_args(false);
  app.add_option("--unset", o.env_unset, "remove K from the command's environment (repeatable)")
      ->type_name("K")
      ->allow_extra_args(false);
  app.add_flag("--clear-env", o.clear_env, "start from an empty environment");
  app.add_option("--user", o.user,
                 "run as USER (name or uid), with its primary group and supplementary groups")
      ->type_name("USER");
  app.add_option("--group", o.group, "run with GROUP (name or gid) as the only group")
      ->type_name("GROUP");
  app.add_option("--scope", scope,
                 "containment level: cgroup (strong) or session (weaker); default: the best "
                 "available, or $TEND_SCOPE")
      ->type_name("cgroup|session");
  app.add_option("--memory", memory,
                 "memory limit for the whole job (512M, 2G, bytes): above it the kernel's OOM "
                 "killer ends a process of the job")
      ->type_name("SIZE");
  app.add_option("--memory-high", memory_high,
                 "memory level above which the job is slowed down and reclaimed")
      ->type_name("SIZE");
  app.add_option("--swap", swap, "swap the job may use")->type_name("SIZE");
  app.add_option("--pids", pids,
                 "most processes (and threads) the job may have at once; fork fails above")
      ->type_name("N");
  app.add_option("--cpu", cpu, "CPU time the job may use, in CPUs (0.5, 2)")->type_name("CPUS");
  app.add_flag("-v,--verbose", o.verbose, "report the containment level and a summary on stderr");
  // Everything from the first non-option argument on is the command and its arguments.
  app.prefix_command();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return ParsedArgs{std::nullopt, 0};
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }

  std::vector<std::string> rest = app.remaining();
  if (!rest.empty() && rest.front() == "--")
    rest.erase(rest.begin());
  else if (!rest.empty() && rest.front().size() > 1 && rest.front()[0] == '-')
    return usage("unknown option " + rest.front() + " (try: tend run --help)");
  if (rest.empty())
    return usage("no command given (usage: tend run [OPTIONS] [--] COMMAND [ARG...])");
  o.argv = std::move(rest);

  if (!timeout.empty()) {
    auto d = parse_duration(timeout);
    if (!d) return usage("--timeout " + d.error().detail);
    o.timeout = *d;
  }
  if (!kill_after.empty()) {
    auto d = parse_duration(kill_after);
    if (!d) return usage("--kill-after " + d.error().detail);
    // A zero grace would make the stop signal meaningless: say so instead of guessing.
    if (d->count() == 0)
      return usage("--kill-after '" + kill_after +
                   "': must be more than 0 (the grace before SIGKILL)");
    o.kill_after = *d;
  }
  if (!signal.empty()) {
    auto s = parse_signal(signal);
    if (!s) return usage("--signal " + s.error().detail);
    o.signal = *s;
  }
  if (!orphans.empty()) {
    auto p = parse_orphan_policy(orphans);
    if (!p) return usage("--orphans " + p.error().detail);
    o.orphans = *p;
  }
  if (!scope.empty()) {
    auto s = parse_scope("--scope", scope);
    if (!s) return s.error();
    o.scope = *s;
  } else if (const char* env = std::getenv("TEND_SCOPE"); env && *env) {
    auto s = parse_scope("TEND_SCOPE", env);
    if (!s) return s.error();
    o.scope = *s;
  }
  if (auto l = parse_limits(memory, memory_high, swap, pids, cpu, o.limits); !l) return l.error();
  for (const auto& kv : env_set) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return usage("--env '" + kv + "': expected K=V");
    o.env_set.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& k : o.env_unset)
    if (k.empty() || k.find('=') != std::string::npos)
      return usage("--unset '" + k + "': expected a variable name");
  if (o.json_path && o.json_path->empty()) return usage("--json: empty file name");
  if (o.output_path && o.output_path->empty()) return usage("--output: empty file name");
  return ParsedArgs{std::move(o), 0};
}

ParseOutcome<RunOptions> parse_options(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (!parsed) {
    const Error& e = parsed.error();
    return usage_error("tend", e.stage == "usage" ? e.detail : e.message());
  }
  if (!parsed->options) return ExitNow{parsed->exit_code};
  return std::move(*parsed->options);
}

Expected<Command> build_command(const RunOptions& o) {
  Command cmd(o.argv);
  if (o.clear_env) cmd.clear_env();
  for (const auto& k : o.env_unset) cmd.unset_env(k);
  for (const auto& [k, v] : o.env_set) cmd.set_env(k, v);
  if (o.cwd) {
    // Checked here so that a typo starts nothing (the child's chdir would also catch it).
    struct stat st {};
    if (::stat(o.cwd->c_str(), &st) != 0) {
      const int code = errno;
      return usage("--cwd " + *o.cwd + ": " + errno_text(code));
    }
    if (!S_ISDIR(st.st_mode)) return usage("--cwd " + *o.cwd + ": " + errno_text(ENOTDIR));
    cmd.cwd(*o.cwd);
  }
  if (o.user || o.group) {
    auto creds = resolve_credentials(o.user, o.group);
    if (!creds) return creds.error();
    cmd.credentials(std::move(*creds));
  }
  if (o.output_path) {
    cmd.stdout_(Stdio::file(*o.output_path));
    cmd.merge_stderr();
  }
  return cmd;
}

JobOptions build_job_options(const RunOptions& o) {
  JobOptions j;
  j.timeout = o.timeout;
  j.stop.signal = o.signal;
  j.stop.grace = o.kill_after;
  j.orphans = o.orphans;
  j.scope.level = o.scope;
  j.scope.limits = o.limits;
  return j;
}

}  // namespace tend::run_face
