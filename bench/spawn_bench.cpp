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

void tend_spawn(const tend::Command& cmd, const tend::Scope* scope) {
  auto c = tend::spawn(cmd, scope);
  if (!c || !c->wait()) std::abort();
}

void tend_job(const tend::Command& cmd, tend::Loop& loop) {
  tend::JobOptions o;
  auto job = tend::Job::start(loop, cmd, o);
  if (!job) std::abort();
  if (!loop.run_until([&] { return (*job)->done(); })) std::abort();
}

void compare(const char* label, const char* path, int rounds, int iters, const char* target) {
  tend::Command cmd({path});
  auto scope = tend::Scope::create();
  if (!scope) std::abort();
  auto loop = tend::Loop::create();
  double raw = 0, in_scope = 0, job = 0;
  for (int r = 0; r < rounds; ++r) {  // interleave: one round each, repeatedly
    raw += bench::median_us(1, iters, [&] { raw_vfork(path); });
    in_scope += bench::median_us(1, iters, [&] { tend_spawn(cmd, scope->get()); });
    job += bench::median_us(1, iters, [&] { tend_job(cmd, *loop); });
  }
  std::string a = std::string(label) + ": spawn+wait into a scope";
  std::string b = std::string(label) + ": whole Job (new cgroup each)";
  bench::row(a.c_str(), in_scope / rounds, raw / rounds, target);
  bench::row(b.c_str(), job / rounds, raw / rounds, "-");
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  std::printf("spawn level %s, scope level %s\n\n", tend::to_string(tend::current_spawn_level()),
              tend::to_string(tend::probe_cgroup().writable ? tend::ScopeLevel::cgroup
                                                            : tend::ScopeLevel::session));
  bench::header("tend µs", "raw µs");
  compare("/bin/true", "/bin/true", rounds, 200, "<= 1.05x");
  compare("static no-libc binary", TINY_TRUE, rounds, 1000, "<= 1.25x");
  return 0;
}
