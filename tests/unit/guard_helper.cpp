// A supervisor of several jobs for supervisor_guard_test.cpp: starts JOBS marked `sleep 300` jobs
// (at the level TEND_SCOPE says), optionally SIGKILLs its own guard before job number KILL_AT,
// prints one line per job and "ready", then waits to be killed.
//
//   guard_helper MARKER JOBS [KILL_AT]
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "supervisor_guard.hpp"
#include "tend/job.hpp"

namespace {

// The guard is our child: once dead it stays a zombie until the next job finds it gone.
bool wait_dead(pid_t pid) {
  const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  for (int i = 0; i < 500; ++i) {
    FILE* f = std::fopen(stat.c_str(), "r");
    if (!f) return true;
    char text[512] = {};
    size_t n = std::fread(text, 1, sizeof text - 1, f);
    std::fclose(f);
    std::string s(text, n);
    auto paren = s.rfind(')');
    if (paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] == 'Z') return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string marker = argv[1];
  const int jobs = std::atoi(argv[2]);
  const int kill_at = argc > 3 ? std::atoi(argv[3]) : -1;
  auto loop = tend::Loop::create();
  if (!loop) return 2;
  std::vector<std::unique_ptr<tend::Job>> running;
  for (int i = 0; i < jobs; ++i) {
    if (i == kill_at) {
      pid_t guard = tend::detail::guard_process_pid();
      if (guard <= 0 || ::kill(guard, SIGKILL) != 0 || !wait_dead(guard)) return 3;
      std::printf("killed guard %d\n", guard);
    }
    tend::Command cmd({"sleep", "300"});
    cmd.set_env("TEND_TEST_MARKER", marker);
    auto job = tend::Job::start(*loop, cmd, {});
    if (!job) {
      std::fprintf(stderr, "guard_helper: %s\n", job.error().message().c_str());
      return 4;
    }
    std::printf("job %d %s\n", (*job)->result().pid, (*job)->scope()->cgroup_path().c_str());
    running.push_back(std::move(*job));
  }
  std::printf("guard %d\nready\n", tend::detail::guard_process_pid());
  std::fflush(stdout);
  for (;;) ::pause();
}
