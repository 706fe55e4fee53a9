// Stop latency: a tree of 1,000 processes (a third of them setsid) from the kill request to an
// empty scope, libtend's Job::stop vs a raw `cgroup.kill` + poll(cgroup.events) loop, same run.
//
//   build/bench/stop_bench [ROUNDS] [PROCESSES]
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "bench_util.hpp"
#include "tend/job.hpp"

namespace {

using namespace std::chrono_literals;

std::string tree_script(int n) {
  // Every third process leaves the session: process-group kills would miss it.
  return "i=0; while [ $i -lt " + std::to_string(n / 3) +
         " ]; do sleep 300 & setsid sleep 300 & sleep 300 & i=$((i+1)); done; exec sleep 300";
}

void wait_for_population(const tend::Scope& scope, size_t n) {
  while (scope.pids().size() < n) usleep(20000);
}

double tend_stop(int n) {
  auto loop = tend::Loop::create();
  tend::JobOptions o;
  o.stop.grace = 0ms;
  auto job = tend::Job::start(*loop, tend::Command({"sh", "-c", tree_script(n)}), o);
  if (!job) std::abort();
  wait_for_population(*(*job)->scope(), static_cast<size_t>(n));
  auto t0 = bench::Clock::now();
  (*job)->stop();
  if (!loop->run_until([&] { return (*job)->done(); })) std::abort();
  std::chrono::duration<double, std::micro> d = bench::Clock::now() - t0;
  if ((*job)->result().leftovers_killed < n - 1) std::abort();
  return d.count();
}

double raw_stop(int n) {
  auto scope = tend::Scope::create({tend::ScopeLevel::cgroup});
  if (!scope) std::abort();
  auto child = tend::spawn(tend::Command({"sh", "-c", tree_script(n)}), scope->get());
  if (!child) std::abort();
  wait_for_population(**scope, static_cast<size_t>(n));
  const std::string dir = (*scope)->cgroup_path();
  auto t0 = bench::Clock::now();
  int kill_fd = open((dir + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
  int events = open((dir + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
  if (write(kill_fd, "1", 1) != 1) std::abort();
  char buf[256];
  for (;;) {
    ssize_t len = pread(events, buf, sizeof buf - 1, 0);
    buf[len > 0 ? len : 0] = 0;
    if (std::string(buf).find("populated 0") != std::string::npos) break;
    struct pollfd p {
      events, POLLPRI, 0
    };
    poll(&p, 1, -1);
  }
  std::chrono::duration<double, std::micro> d = bench::Clock::now() - t0;
  close(kill_fd);
  close(events);
  (void)child->wait();
  return d.count();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  int n = argc > 2 ? std::atoi(argv[2]) : 1000;
  if (!tend::probe_cgroup().writable) {
    std::fprintf(stderr, "stop_bench: needs a writable cgroup v2 (run as root)\n");
    return 1;
  }
  std::vector<double> t, r;
  for (int i = 0; i < rounds; ++i) {
    t.push_back(tend_stop(n));
    r.push_back(raw_stop(n));
  }
  std::sort(t.begin(), t.end());
  std::sort(r.begin(), r.end());
  bench::header("tend µs", "raw µs");
  std::string label =
      std::to_string(n) + " processes, kill to empty (median of " + std::to_string(rounds) + ")";
  bench::row(label.c_str(), t[t.size() / 2], r[r.size() / 2], "<= 1.2x");
  return 0;
}
