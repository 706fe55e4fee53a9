// `tend run`: a timeout(1) that contains the whole process tree. One Job on one Loop; signals to
// tend arrive on a signalfd watched by that Loop (no handlers).
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>

#include "run_face.hpp"
#include "run_options.hpp"
#include "run_report.hpp"
#include "run_signals.hpp"
#include "tend/job.hpp"
#include "tend/loop.hpp"
#include "tend/reaper.hpp"

namespace tend::run_face {
namespace {

int fail(const std::string& sentence) {
  std::fprintf(stderr, "tend: %s\n", sentence.c_str());
  return 125;
}

std::string sentence(const Error& e) {
  return e.kind == ErrorKind::usage ? e.detail : e.message();
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (const auto* exit = std::get_if<ExitNow>(&parsed)) return exit->status;
  const RunOptions& opts = std::get<RunOptions>(parsed);

  auto cmd = build_command(opts);
  if (!cmd) return fail(sentence(cmd.error()));
  auto json = JsonSink::open(opts.json_path);
  if (!json) return fail(sentence(json.error()));

  // Blocked before the job starts, so a signal sent at any moment is seen; spawn gives the job
  // the mask and ignored signals tend was started with (tend::inherited_signals).
  auto sigfd = make_signalfd(caught_signals());
  if (!sigfd) return fail(sigfd.error().message());
  auto loop = Loop::create();
  if (!loop) return fail(loop.error().message());

  auto job = Job::start(*loop, *cmd, build_job_options(opts));
  if (!job) return fail(job.error().message());
  if (opts.verbose && (*job)->result().reason != EndReason::spawn_failed) print_start(**job);

  SignalRouter router(**job);
  auto watched = loop->watch(sigfd->get(), EPOLLIN, [&](uint32_t) {
    struct signalfd_siginfo info;
    for (;;) {
      ssize_t n = ::read(sigfd->get(), &info, sizeof info);
      if (n < 0 && errno == EINTR) continue;
      if (n != static_cast<ssize_t>(sizeof info)) break;  // EAGAIN: all pending ones read
      router.on_signal(info);
    }
  });
  if (!watched) return fail(watched.error().message());

  if (!(*job)->done()) {
    auto ran = loop->run_until([&] { return (*job)->done(); });
    if (!ran) return fail(ran.error().message());
  }
  loop->unwatch(sigfd->get());

  const Result& result = (*job)->result();
  int code = result.exit_code(opts.preserve_status);
  if (result.reason == EndReason::spawn_failed)
    std::fprintf(stderr, "tend: %s\n", spawn_failure_sentence(result, opts).c_str());
  if (auto w = json->write(result); !w)
    std::fprintf(stderr, "tend: %s\n", w.error().message().c_str());
  if (opts.verbose) print_summary(result, code);
  // The job is over and its guard disarmed. Destroying the Job would wait for the guard to be
  // scheduled and exit (milliseconds on a loaded machine) on the path of tend's own exit; our
  // exit hands the guard to init (or the nearest subreaper), which reaps it. Kept in a static so
  // that it stays reachable: deliberately not freed, not a leak (LeakSanitizer agrees).
  static Job* const kept = job->release();
  (void)kept;
  return code;
}

}  // namespace tend::run_face
