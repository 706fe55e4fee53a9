// `tend init`: the container entrypoint. Read top to bottom:
//   1. parse the options (bad ones: one line, 125, nothing started);
//   2. block every catchable signal and read them from a signalfd: no handlers, no polling;
//   3. become the reaper of orphans (PID 1 is one already; otherwise a child subreaper);
//   4. start the command as a tend::Job, in its own scope, in the terminal's foreground;
//   5. sleep in the event loop until the job is over: SIGCHLD reaps orphans, SIGTERM/SIGINT stop
//      the job, any other signal is forwarded; nothing wakes us while nothing happens;
//   6. exit with the command's status.
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "init_face.hpp"
#include "options.hpp"
#include "signals.hpp"
#include "tend/job.hpp"
#include "tend/loop.hpp"
#include "tend/reaper.hpp"
#include "terminal.hpp"

namespace tend::init_face {
namespace {

// tend's own failure: 125, or 1 as tini (which has one status for all of its own failures).
int fail(const Error& error, const Options& opt) {
  std::fprintf(stderr, "tend init: %s\n", error.message().c_str());
  return opt.tini.on ? 1 : 125;
}

// Reads every pending signal and acts on each.
void drain_signals(int sigfd, Job& job, const Options& opt) {
  signalfd_siginfo infos[16];
  for (;;) {
    ssize_t n = ::read(sigfd, infos, sizeof infos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: all read
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof infos[0]); ++i)
      on_signal(job, opt, static_cast<int>(infos[i].ssi_signo));
  }
}

// The command's own status (N, 128+N, 126/127 if it never ran), after the -e mapping.
int exit_status(const Result& result, const Options& opt) {
  const int code = result.exit_code(/*preserve_status=*/true);
  const auto& ok = opt.success_codes;
  return std::find(ok.begin(), ok.end(), code) != ok.end() ? 0 : code;
}

int run(const Options& opt) {
  auto sigfd = make_signalfd(caught_signals());
  if (!sigfd) return fail(sigfd.error(), opt);
  if (opt.parent_death_signal != 0 &&
      ::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(opt.parent_death_signal), 0, 0, 0) != 0)
    return fail(Error::from_errno("prctl PR_SET_PDEATHSIG"), opt);
  // Without it (a seccomp filter may refuse prctl) orphans go to the real init: say so, go on.
  if (auto reaper = Reaper::become_subreaper(); !reaper)
    std::fprintf(stderr, "tend init: orphans will not be reaped here: %s\n",
                 reaper.error().message().c_str());

  auto loop = Loop::create();
  if (!loop) return fail(loop.error(), opt);
  Command command(opt.command);
  const bool tty = TerminalHandoff::stdin_is_terminal();
  // Always its own process group, as tini does (setpgid): the terminal's foreground when there
  // is one, the target of -g, and what a process-group kill of the job reaches (not tend).
  command.process_group(true);
  command.take_terminal(tty);
  JobOptions job_options;
  job_options.stop.grace = opt.grace;
  job_options.orphans = opt.orphans;
  // No guard process: as PID 1 our death ends the namespace and every process in it, and as a
  // subreaper we behave as tini does (its tests check that init's children are the job's own).
  job_options.guard = false;
  TerminalHandoff terminal = TerminalHandoff::prepare();
  auto started = Job::start(*loop, command, job_options);
  if (!started) return fail(started.error(), opt);
  Job& job = **started;
  if (job.done() && job.result().error) {  // the command could not be run
    std::fprintf(stderr, "tend init: %s\n", job.result().error->message().c_str());
    return exit_status(job.result(), opt);
  }
  terminal.give_to(job.pid());

  if (auto watched = loop->watch(sigfd->get(), EPOLLIN,
                                 [&](uint32_t) { drain_signals(sigfd->get(), job, opt); });
      !watched) {
    job.stop(SIGKILL);
    return fail(watched.error(), opt);
  }
  if (auto ran = loop->run_until([&] { return job.done(); }); !ran) return fail(ran.error(), opt);
  loop->unwatch(sigfd->get());
  terminal.give_back();
  drain_signals(sigfd->get(), job, opt);  // a last SIGCHLD: leave no zombie behind us
  return exit_status(job.result(), opt);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (const auto* exit = std::get_if<ExitNow>(&parsed)) return exit->status;
  return run(std::get<Options>(parsed));
}

int tini_main(int argc, char** argv) {
  auto parsed = parse_tini_options(argc, argv);
  if (const auto* exit = std::get_if<ExitNow>(&parsed)) return exit->status;
  return run(std::get<Options>(parsed));
}

}  // namespace tend::init_face
