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
  // Run as `tini` (a multi-call link): tini's messages and its exit status 1 for our own failures.
  struct Tini {
    bool on = false;
    int verbosity = 1;          // -v (repeatable), TINI_VERBOSITY
    bool warn_on_reap = false;  // -w: "Reaped zombie process with pid=N"
  } tini;
};

// The options, or the status to exit with right away (see ParseOutcome in tend/parse.hpp).
ParseOutcome<Options> parse_options(int argc, char** argv);
// The same from tini's command line (-s -p -v -w -g -e -l -h, --version alone) and its
// environment (TINI_SUBREAPER, TINI_KILL_PROCESS_GROUP, TINI_VERBOSITY); a bad one exits 1.
ParseOutcome<Options> parse_tini_options(int argc, char** argv);

}  // namespace tend::init_face
