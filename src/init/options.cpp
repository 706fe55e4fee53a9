#include "options.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string_view>

#include "tend/parse.hpp"

namespace tend::init_face {
namespace {

constexpr const char* kDescription =
    "Run COMMAND as the main process of a container (or of any process tree): reap every orphan,\n"
    "forward signals, and on SIGTERM/SIGINT stop everything left, SIGKILL after the grace.\n"
    "The exit status is the command's: N, 128+N for signal N, 126/127 if it could not be run,\n"
    "125 if tend itself failed.";

// Thrown from the option callbacks so CLI11 reports the value that was wrong.
[[noreturn]] void reject(const std::string& option, const Error& error) {
  throw CLI::ValidationError(option, error.detail.empty() ? error.message() : error.detail);
}

int parse_signal_or_throw(const std::string& option, const std::string& text) {
  auto sig = parse_signal(text);
  if (!sig) reject(option, sig.error());
  return *sig;
}

std::pair<int, int> parse_rewrite(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos)
    throw CLI::ValidationError("--rewrite", "'" + text + "': expected FROM:TO, e.g. TERM:QUIT");
  int from = parse_signal_or_throw("--rewrite", text.substr(0, colon));
  std::string to_text = text.substr(colon + 1);
  int to = to_text == "0" ? 0 : parse_signal_or_throw("--rewrite", to_text);
  return {from, to};
}

OrphanPolicy parse_orphans(const std::string& text) {
  auto policy = parse_orphan_policy(text);
  if (!policy) reject("--orphans", policy.error());
  return *policy;
}

}  // namespace

ParseOutcome<Options> parse_options(int argc, char** argv) {
  Options opt;
  CLI::App app{kDescription, "tend init"};
  app.footer(
      "COMMAND [ARG...] comes after the options (after --, to be safe).\n"
      "Example, as a container's entrypoint: tend init --grace 30s -- nginx -g 'daemon off;'");
  // Everything from the first word that is not an option on belongs to COMMAND.
  app.prefix_command();

  app.add_flag_callback(
      "-s,--subreaper", [] {},
      "Accepted for tini compatibility: tend is a subreaper whenever it is not PID 1");
  app.add_flag_callback(
      "-g,--pgroup", [&] { opt.forward_to = ForwardTo::group; },
      "Forward signals to the command's process group");
  app.add_flag_callback(
      "--all", [&] { opt.forward_to = ForwardTo::all; },
      "Forward signals to every process of the job");
  app.add_option("-e,--exit-success", opt.success_codes,
                 "Report exit status CODE as 0 (repeatable)")
      ->check(CLI::Range(0, 255))
      ->allow_extra_args(false)
      ->type_name("CODE");
  std::vector<std::string> rewrites;
  app.add_option("--rewrite", rewrites, "Forward signal FROM as TO (TO 0: drop it); repeatable")
      ->allow_extra_args(false)
      ->type_name("FROM:TO");
  app.add_option_function<std::string>(
         "--grace",
         [&](const std::string& text) {
           auto grace = parse_duration(text);
           if (!grace) reject("--grace", grace.error());
           opt.grace = *grace;
         },
         "Time between the stop signal and SIGKILL (default 10s)")
      ->type_name("DURATION");
  app.add_option_function<std::string>(
         "--orphans", [&](const std::string& text) { opt.orphans = parse_orphans(text); },
         "When the command exits and others remain: kill (default), wait or leave")
      ->type_name("POLICY");
  app.add_option_function<std::string>(
         "-p,--pdeathsig",
         [&](const std::string& text) {
           opt.parent_death_signal = parse_signal_or_throw("-p", text);
         },
         "Signal tend init receives when its parent dies")
      ->type_name("SIG");
  app.add_flag("-v,--verbose,-w", opt.verbose,
               "Say what happens: orphans reaped, signals forwarded (-w: tini's spelling)");

  try {
    app.parse(argc, argv);
    for (const auto& text : rewrites) {
      auto [from, to] = parse_rewrite(text);
      opt.rewrite[from] = to;
    }
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return ExitNow{0};
  } catch (const CLI::ParseError& e) {
    return usage_error("tend init", e.what());
  }

  std::vector<std::string> rest = app.remaining();
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  if (rest.empty())
    return usage_error("tend init",
                       "no command given (usage: tend init [OPTIONS] -- COMMAND [ARG...])");
  // prefix_command() hands unknown options over as the command; they are mistakes.
  if (rest.front().size() > 1 && rest.front()[0] == '-' && app.remaining().front() != "--")
    return usage_error("tend init",
                       "unknown option " + rest.front() + " (put the command after --)");
  opt.command = std::move(rest);
  return opt;
}

}  // namespace tend::init_face
