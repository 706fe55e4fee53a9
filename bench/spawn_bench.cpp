// spawn + wait through libtend vs the best raw loop (vfork + execve + waitpid), same run.
// Rounds of the cases alternate so that drift in the machine's speed hits them alike; each
// figure is the median over rounds, and the ratio the median of the per-round ratios. The CPU
// columns are this process's own user + system time per call (the supervisor's cost).
//
//   build/bench/spawn_bench [ROUNDS]
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

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

// The CPU time (user + system) this process has used so far, in microseconds: what the
// supervisor itself spends per job, which a loaded machine changes much less than wall time.
double cpu_us() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) { return tv.tv_sec * 1e6 + static_cast<double>(tv.tv_usec); };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

// One case of the table: per round, the mean wall time per call and its ratio to the raw loop
// of the same round (interleaved rounds: drift in the machine's load hits both alike).
struct Case {
  std::string label;
  const char* target;
  std::vector<double> us, ratio;
  double cpu = 0;
  int calls = 0;

  void measure(int iters, double raw_us, const std::function<void()>& fn) {
    double c0 = cpu_us();
    double t = bench::median_us(1, iters, fn);
    cpu += cpu_us() - c0;
    calls += iters;
    us.push_back(t);
    ratio.push_back(t / raw_us);
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
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
  const std::string l = label;
  Case raw{l + ": raw vfork+exec+wait", "-"};
  Case in_scope{l + ": spawn+wait into a scope", target};
  Case job{l + ": whole Job (pooled cgroup)", job_target};
  Case fresh{l + ": whole Job (new cgroup each)", "-"};
  Case limited{l + ": whole Job with limits (" + limits_level + ")", "-"};
  for (int r = 0; r < rounds; ++r) {  // interleave: one round each, repeatedly
    raw.measure(iters, 1, [&] { raw_vfork(path); });
    const double raw_us = raw.us.back();
    in_scope.measure(iters, raw_us, [&] { tend_spawn(cmd, scope->get()); });
    job.measure(iters, raw_us, [&] { tend_job(cmd, *loop); });
    ::setenv("TEND_CGROUP_POOL", "0", 1);
    fresh.measure(iters, raw_us, [&] { tend_job(cmd, *loop); });
    ::unsetenv("TEND_CGROUP_POOL");
    if (have_limits) limited.measure(iters / 4, raw_us, [&] { tend_job(cmd, *loop, limits); });
  }
  const double raw_us = median(raw.us), raw_cpu = raw.cpu / raw.calls;
  for (Case* c : {&in_scope, &job, &fresh, &limited}) {
    if (c->us.empty()) continue;
    bench::row(c->label.c_str(), median(c->us), raw_us, median(c->ratio), c->cpu / c->calls,
               raw_cpu, c->target);
  }
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
  bench::header_with_cpu();
  compare("/bin/true", "/bin/true", rounds, 200, "<= 1.05x", "<= 1.3x", level);
  compare("static no-libc binary", TINY_TRUE, rounds, 1000, "<= 1.25x", "<= 2.0x", level);
  return 0;
}
