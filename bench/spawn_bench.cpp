// spawn + wait through libtend vs the best raw loop (vfork + execve + waitpid), same run.
// Rounds of the two alternate so that drift in the machine's speed hits both alike.
//
//   build/bench/spawn_bench [ROUNDS]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "bench_util.hpp"
#include "tend/child.hpp"
#include "tend/job.hpp"
#include "tend/limits.hpp"
#include "tend/scope.hpp"

extern char** environ;

namespace {

void raw_vfork(const char* path) {
  char* argv[] = {const_cast<char*>(path), nullptr};
  pid_t pid = vfork();
  if (pid == 0) {
    execve(path, argv, environ);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0) {
  }
}

[[noreturn]] void die(const tend::Error& e) {
  std::fprintf(stderr, "spawn_bench: %s\n", e.message().c_str());
  std::abort();
}

void tend_spawn(const tend::Command& cmd, const tend::Scope* scope) {
  auto c = tend::spawn(cmd, scope);
  if (!c) die(c.error());
  if (auto w = c->wait(); !w) die(w.error());
}

void tend_job(const tend::Command& cmd, tend::Loop& loop, const tend::Limits& limits = {}) {
  tend::JobOptions o;
  o.scope.limits = limits;
  auto job = tend::Job::start(loop, cmd, o);
  if (!job) die(job.error());
  if (auto r = loop.run_until([&] { return (*job)->done(); }); !r) die(r.error());
  if ((*job)->result().exit_code() != 0)
    die(tend::Error::with_detail("job", (*job)->result().describe()));
}

void compare(const char* label, const char* path, int rounds, int iters, const char* target,
             const char* job_target, const std::string& limits_level) {
  tend::Command cmd({path});
  auto scope = tend::Scope::create();
  if (!scope) std::abort();
  auto loop = tend::Loop::create();
  // Limits as a job agent would set them; the mechanism is whatever this host has.
  tend::Limits limits;
  limits.memory_max = 256 << 20;
  limits.pids_max = 100;
  limits.cpus = 1;
  tend::ScopeOptions probe;
  probe.limits = limits;
  bool have_limits = static_cast<bool>(tend::Scope::create(probe));
  double raw = 0, in_scope = 0, job = 0, job_fresh = 0, job_limits = 0;
  for (int r = 0; r < rounds; ++r) {  // interleave: one round each, repeatedly
    raw += bench::median_us(1, iters, [&] { raw_vfork(path); });
    in_scope += bench::median_us(1, iters, [&] { tend_spawn(cmd, scope->get()); });
    job += bench::median_us(1, iters, [&] { tend_job(cmd, *loop); });
    ::setenv("TEND_CGROUP_POOL", "0", 1);
    job_fresh += bench::median_us(1, iters, [&] { tend_job(cmd, *loop); });
    ::unsetenv("TEND_CGROUP_POOL");
    if (have_limits)
      job_limits += bench::median_us(1, iters / 4, [&] { tend_job(cmd, *loop, limits); });
  }
  std::string a = std::string(label) + ": spawn+wait into a scope";
  std::string b = std::string(label) + ": whole Job (pooled cgroup)";
  std::string c = std::string(label) + ": whole Job (new cgroup each)";
  std::string d = std::string(label) + ": whole Job with limits (" + limits_level + ")";
  bench::row(a.c_str(), in_scope / rounds, raw / rounds, target);
  bench::row(b.c_str(), job / rounds, raw / rounds, job_target);
  bench::row(c.c_str(), job_fresh / rounds, raw / rounds, "-");
  if (have_limits) bench::row(d.c_str(), job_limits / rounds, raw / rounds, "-");
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  std::printf("spawn level %s, scope level %s\n\n", tend::to_string(tend::current_spawn_level()),
              tend::to_string(tend::probe_cgroup().writable ? tend::ScopeLevel::cgroup
                                                            : tend::ScopeLevel::session));
  std::string level = "none available";
  for (const auto& c : tend::probe_limits())
    if (c.level != tend::LimitsLevel::none) level = tend::to_string(c.level);
  std::printf("limits: memory 256M, pids 100, cpu 1 through %s\n\n", level.c_str());
  bench::header("tend µs", "raw µs");
  compare("/bin/true", "/bin/true", rounds, 200, "<= 1.05x", "<= 1.3x", level);
  compare("static no-libc binary", TINY_TRUE, rounds, 1000, "<= 1.25x", "<= 2.0x", level);
  return 0;
}
