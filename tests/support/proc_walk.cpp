#include "proc_walk.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tend/process.hpp"  // kGuardProcessName only: no library code is called

namespace tend::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string new_marker() {
  static std::atomic<int> n{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "none";
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') c = '_';
  return name + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

std::string marker_entry(const std::string& marker) {
  return "TEND_TEST_MARKER=" + marker;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds within) {
  const auto deadline = Clock::now() + within;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

std::optional<ProcStat> read_stat(pid_t pid) {
  const std::string text = read_text("/proc/" + std::to_string(pid) + "/stat");
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  ProcStat st;
  st.pid = pid;
  long ppid = 0;
  if (std::sscanf(text.c_str() + close + 1, " %c %ld", &st.state, &ppid) != 2) return std::nullopt;
  st.ppid = static_cast<pid_t>(ppid);
  return st;
}

std::vector<pid_t> processes_where(const std::function<bool(pid_t, const std::string&)>& pred) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (pred(static_cast<pid_t>(pid), std::string("/proc/") + e->d_name))
      out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  processes_where([&](pid_t pid, const std::string&) {
    if (auto st = read_stat(pid)) out.push_back(*st);
    return false;
  });
  return out;
}

std::vector<ProcStat> descendants(pid_t root) {
  std::multimap<pid_t, ProcStat> by_parent;
  for (const auto& p : all_processes()) by_parent.emplace(p.ppid, p);
  std::vector<ProcStat> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [lo, hi] = by_parent.equal_range(parent);
    for (auto it = lo; it != hi; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second.pid);
    }
  }
  return out;
}

std::vector<pid_t> children_of(pid_t parent) {
  return processes_where([&](pid_t pid, const std::string&) {
    auto st = read_stat(pid);
    return st && st->ppid == parent && st->state != 'Z';
  });
}

namespace {

enum class Marking { marked, unmarked, unknown };

bool holds_entry(const std::string& env, const std::string& needle) {
  for (size_t pos = 0; pos < env.size();) {
    size_t nul = env.find('\0', pos);
    if (nul == std::string::npos) nul = env.size();
    if (env.compare(pos, nul - pos, needle) == 0) return true;
    pos = nul + 1;
  }
  return false;
}

// From /proc/PID/stat: whether the process is still a live user process (not gone, not a zombie,
// not a kernel thread: those have no environment to read).
bool live_user_process(const std::string& dir) {
  constexpr unsigned long kKernelThread = 0x00200000;  // PF_KTHREAD
  const std::string text = read_text(dir + "/stat");
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  char state = '?';
  unsigned long flags = 0;
  // state ppid pgrp session tty_nr tpgid flags
  if (std::sscanf(text.c_str() + close + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
    return false;
  return state != 'Z' && state != 'X' && !(flags & kKernelThread);
}

// Whether the process at `dir` carries `needle` in its environment. An empty environ is not an
// answer: a process in the middle of execve reads empty (the new image's mm has no arguments nor
// environment yet, or the mm opened was the old one, gone by the read), and so does one that is
// exiting. It is an answer only for a zombie or a dead pid, a kernel thread, or a process whose
// command line reads non-empty around an empty environ (a real empty environment, e.g. `env -i`
// or PID 1 of a container: the kernel sets both ranges in the same step of exec).
Marking marking_of(const std::string& dir, const std::string& needle) {
  std::string env = read_text(dir + "/environ");
  if (!env.empty()) return holds_entry(env, needle) ? Marking::marked : Marking::unmarked;
  if (!live_user_process(dir)) return Marking::unmarked;
  if (read_text(dir + "/cmdline").empty()) return Marking::unknown;
  env = read_text(dir + "/environ");
  if (env.empty()) return Marking::unmarked;
  return holds_entry(env, needle) ? Marking::marked : Marking::unmarked;
}

}  // namespace

std::vector<pid_t> marked_pids(const std::string& marker) {
  const std::string needle = marker_entry(marker);
  const pid_t self = ::getpid();
  std::vector<pid_t> unknown;
  auto out = processes_where([&](pid_t pid, const std::string& dir) {
    if (pid == self) return false;
    const Marking m = marking_of(dir, needle);
    if (m == Marking::unknown) unknown.push_back(pid);
    return m == Marking::marked;
  });
  // Look again at those caught mid-execve (or mid-exit) until each settles; bounded, so that a
  // process stuck there for good (it would be a stranger's) cannot stall the test.
  const auto deadline = Clock::now() + 2s;
  while (!unknown.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
    std::vector<pid_t> still;
    for (pid_t pid : unknown) {
      const Marking m = marking_of("/proc/" + std::to_string(pid), needle);
      if (m == Marking::marked) out.push_back(pid);
      if (m == Marking::unknown) still.push_back(pid);
    }
    unknown = std::move(still);
  }
  return out;
}

int count_marked(const std::string& marker, std::chrono::milliseconds settle) {
  const auto deadline = Clock::now() + settle;
  int n = static_cast<int>(marked_pids(marker).size());
  while (n > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    n = static_cast<int>(marked_pids(marker).size());
  }
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(30ms);
    n = std::max(n, static_cast<int>(marked_pids(marker).size()));
  }
  return n;
}

bool wait_marked(const std::string& marker, int n, std::chrono::milliseconds within) {
  return wait_until([&] { return static_cast<int>(marked_pids(marker).size()) == n; }, within);
}

bool wait_one_marked_running(const std::string& marker, const std::string& comm,
                             std::chrono::milliseconds within) {
  return wait_until(
      [&] {
        auto pids = marked_pids(marker);
        return pids.size() == 1 && comm_of(pids[0]) == comm;
      },
      within);
}

int kill_marked(const std::string& marker) {
  std::set<pid_t> killed;
  // Until none is left: a process may fork while we sweep, and a killed one may take seconds
  // to be gone on a machine starved of CPU or I/O (it must run its exit, and one in
  // uninterruptible sleep, e.g. paging in the binary it execs, sees SIGKILL only after it).
  // "None" must hold for 3 looks in a row: a process in the middle of execve shows an empty
  // environment for a moment (the new image's is not mapped yet), and CI once stopped at such a
  // look while the job's leftover went on to exec `sleep`.
  const auto deadline = Clock::now() + 30s;
  for (int empty_looks = 0; empty_looks < 3 && Clock::now() < deadline;) {
    auto pids = marked_pids(marker);
    empty_looks = pids.empty() ? empty_looks + 1 : 0;
    for (pid_t p : pids)
      if (::kill(p, SIGKILL) == 0) killed.insert(p);
    std::this_thread::sleep_for(20ms);
  }
  return static_cast<int>(killed.size());
}

namespace {
std::string exe_of(pid_t pid) {
  char buf[4096];
  ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}
}  // namespace

std::string comm_of(pid_t pid) {
  std::string comm = read_text("/proc/" + std::to_string(pid) + "/comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

bool named_tend_guard(pid_t pid) {
  return comm_of(pid) == kGuardProcessName;
}

bool is_tend_guard(pid_t pid) {
  if (named_tend_guard(pid)) return true;
  // Before it renames itself, a guard is a fork of tend that has not exec'd: the same program
  // as its parent. (A job's process that has not exec'd yet looks the same; callers ask only
  // once the job runs.)
  auto st = read_stat(pid);
  if (!st || st->ppid <= 1) return false;
  std::string exe = exe_of(pid);
  bool is_tend = exe.size() >= 5 && exe.compare(exe.size() - 5, 5, "/tend") == 0;
  return is_tend && exe == exe_of(st->ppid);
}

}  // namespace tend::test
