// `tend doctor`: what this kernel offers and the containment level tend will use.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "doctor_face.hpp"
#include "doctor_report.hpp"
#include "tend/parse.hpp"

namespace tend::doctor_face {

namespace {

struct Options {
  bool json = false;
};

ParseOutcome<Options> parse_options(int argc, char** argv) {
  Options o;
  CLI::App app{
      "tend doctor [--json]\n\n"
      "Show what this kernel offers (clone3, pidfd, close_range, cgroup v2, subreaper) and the\n"
      "containment level tend will use.\n\n"
      "Exit status: 0 when the cgroup level (strong) is available, 1 when only the session level\n"
      "(weaker) is, 125 on a bad option.",
      "tend doctor"};
  app.add_flag("--json", o.json, "print the same as one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return ExitNow{0};
  } catch (const CLI::ParseError& e) {
    return usage_error("tend", e.what());
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (const auto* exit = std::get_if<ExitNow>(&parsed)) return exit->status;
  const bool json = std::get<Options>(parsed).json;

  Platform p = probe_platform();
  if (json)
    std::puts(render_json(p).dump(2).c_str());
  else
    std::fputs(render_text(p).c_str(), stdout);
  return p.scope_level == ScopeLevel::cgroup ? 0 : 1;
}

}  // namespace tend::doctor_face
