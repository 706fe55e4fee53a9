// Helpers shared by the unit tests: find a test's processes by a marker in their environment.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tend/command.hpp"
#include "tend/scope.hpp"

namespace tend::test {

// A value unique to this test run, put in a job's environment as TEND_TEST_MARKER=<value>.
inline std::string new_marker() {
  std::random_device rd;
  return "m" + std::to_string(rd()) + std::to_string(::getpid());
}

inline Command marked(Command c, const std::string& marker) {
  c.set_env("TEND_TEST_MARKER", marker);
  return c;
}

// PIDs of live (non-zombie) processes whose environment holds the marker.
inline std::vector<pid_t> find_marked(const std::string& marker) {
  std::vector<pid_t> out;
  const std::string needle = "TEND_TEST_MARKER=" + marker;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid()) continue;
    std::ifstream env("/proc/" + std::string(e->d_name) + "/environ", std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    if (data.find(needle) == std::string::npos) continue;
    std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') continue;
    out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

// Counts marked processes; kills them so a failing test does not leak into the next one.
// Waits (up to 2 s) until they are gone, so the next test starts clean.
inline size_t count_and_kill_marked(const std::string& marker) {
  auto pids = find_marked(marker);
  for (pid_t p : pids) ::kill(p, SIGKILL);
  for (int i = 0; i < 200 && !pids.empty() && !find_marked(marker).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return pids.size();
}

inline bool cgroup_available() {
  return probe_cgroup().writable;
}

inline size_t open_fd_count() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (auto* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the directory's own fd
}

}  // namespace tend::test
