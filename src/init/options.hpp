// The command line of `tend init`: tini's spellings where they cost nothing, tend's where they add.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "tend/job.hpp"
#include "tend/parse.hpp"

namespace tend::init_face {

// Who receives a forwarded signal.
enum class ForwardTo {
  main,   // the main process (default)
  group,  // its process group (-g)
  all,    // every process in the job's scope (--all)
};

struct Options {
  std::vector<std::string> command;
  ForwardTo forward_to = ForwardTo::main;
  std::map<int, int> rewrite;      // --rewrite FROM:TO; TO 0 drops the signal
  std::vector<int> success_codes;  // -e CODE: exit statuses reported as 0
  std::chrono::milliseconds grace{10'000};
  OrphanPolicy orphans = OrphanPolicy::kill;
  int parent_death_signal = 0;  // -p SIG: prctl(PR_SET_PDEATHSIG) on init itself
  bool verbose = false;
};

// The options, or the status to exit with right away (see ParseOutcome in tend/parse.hpp).
ParseOutcome<Options> parse_options(int argc, char** argv);

}  // namespace tend::init_face
