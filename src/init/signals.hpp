// Which signals `tend init` takes, and what it does with each.
#pragma once

#include <vector>

#include "options.hpp"
#include "tend/job.hpp"

namespace tend::init_face {

// SIGCHLD and every signal a process can catch that is not about its own faults (SIGSEGV,
// SIGBUS, ...): all are blocked and read from a signalfd, never handled asynchronously.
std::vector<int> caught_signals();

// Acts on one signal received by init: SIGCHLD reaps orphans; SIGTERM and SIGINT stop the job
// (its StopPolicy, with the signal after --rewrite); every other one is rewritten and forwarded.
void on_signal(Job& job, const Options& opt, int sig);

}  // namespace tend::init_face
