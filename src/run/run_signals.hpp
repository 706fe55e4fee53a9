// Which signals `tend run` takes on a signalfd, and what it does with each. Every signal whose
// default action would end tend is caught, so that tend never dies of one and leaves its job
// unsupervised: SIGTERM/SIGINT stop the job by the StopPolicy, SIGCHLD reaps orphans, a SIGPIPE
// from tend's own write is dropped, every other one is passed on to the job's main process.
// Stop signals from the terminal (TSTP, TTIN, TTOU) are left alone: they stop tend with its job,
// as a shell's job control expects.
#pragma once

#include <sys/signalfd.h>

#include <vector>

#include "tend/job.hpp"

namespace tend::run_face {

std::vector<int> caught_signals();

class SignalRouter {
 public:
  explicit SignalRouter(Job& job) : job_(job) {}
  void on_signal(const signalfd_siginfo& info);

 private:
  Job& job_;
};

}  // namespace tend::run_face
