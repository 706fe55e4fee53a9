#include "proc_info.hpp"

#include <dirent.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks the C linkage block (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "files.hpp"

namespace tend::agent {

namespace {

// The fields after "(comm)": comm may contain spaces and parentheses, so split at the last ')'.
std::optional<std::string> stat_tail(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 > text->size()) return std::nullopt;
  return text->substr(close + 2);
}

// Field `n` of /proc/PID/stat (1-based, as in proc(5)); fields 1 and 2 are pid and comm.
std::optional<std::string> stat_field(pid_t pid, int n) {
  auto tail = stat_tail(pid);
  if (!tail) return std::nullopt;
  size_t pos = 0;
  for (int field = 3; field < n; ++field) {
    pos = tail->find(' ', pos);
    if (pos == std::string::npos) return std::nullopt;
    ++pos;
  }
  auto end = tail->find(' ', pos);
  return tail->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end && *end == '\0' && v > 0) out.push_back(static_cast<pid_t>(v));
  }
  ::closedir(d);
  return out;
}

}  // namespace

std::optional<uint64_t> process_start_time(pid_t pid) {
  auto f = stat_field(pid, 22);
  if (!f) return std::nullopt;
  try {
    return std::stoull(*f);
  } catch (...) {
    return std::nullopt;
  }
}

UniqueFd open_if_same_process(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return {};
  // Open first, then check: the pidfd pins the process, so if the start time read afterwards
  // matches, the pidfd is our shim's (a recycled pid would show a later start time).
  UniqueFd fd(::pidfd_open(pid, 0));
  if (!fd) return {};
  auto st = process_start_time(pid);
  if (!st || *st != start_time) return {};
  return fd;
}

int kill_cgroup(const std::string& dir) {
  int seen = 0;
  if (auto procs = read_file(dir + "/cgroup.procs")) {
    for (char c : *procs) seen += c == '\n';
  }
  if (!write_file(dir + "/cgroup.kill", "1")) {
    // No cgroup.kill (old kernel) or the directory is gone: signal what is listed.
    if (auto procs = read_file(dir + "/cgroup.procs")) {
      size_t pos = 0;
      while (pos < procs->size()) {
        auto nl = procs->find('\n', pos);
        pid_t p = static_cast<pid_t>(std::atol(procs->substr(pos, nl - pos).c_str()));
        if (p > 0) ::kill(p, SIGKILL);
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
    }
  }
  // Dying processes leave the cgroup within milliseconds; rmdir succeeds once it is empty.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::rmdir(dir.c_str()) != 0 && errno == EBUSY && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return seen;
}

int kill_session(pid_t sid) {
  if (sid <= 1) return 0;
  std::set<pid_t> killed;
  for (int pass = 0; pass < 50; ++pass) {
    bool found = false;
    for (pid_t p : all_pids()) {
      auto s = stat_field(p, 6);
      if (!s || std::atol(s->c_str()) != sid) continue;
      found = true;
      if (::kill(p, SIGKILL) == 0) killed.insert(p);
    }
    if (!found) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return static_cast<int>(killed.size());
}

}  // namespace tend::agent
