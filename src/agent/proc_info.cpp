#include "proc_info.hpp"

#include <dirent.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks the C linkage block (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string_view>
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

std::map<std::string, FoundShim> find_shims(const std::string& jobs_dir) {
  std::map<std::string, FoundShim> out;
  const std::string prefix = jobs_dir + "/";
  // The job id if `pid` runs `tend agent-shim JOBS_DIR/ID`.
  auto job_of = [&](pid_t pid) -> std::optional<std::string> {
    auto cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    if (!cmdline) return std::nullopt;
    std::vector<std::string> argv;
    for (size_t pos = 0; pos < cmdline->size();) {
      auto end = cmdline->find('\0', pos);
      if (end == std::string::npos) end = cmdline->size();
      argv.push_back(cmdline->substr(pos, end - pos));
      pos = end + 1;
    }
    if (argv.size() != 3 || argv[1] != "agent-shim" || argv[2].rfind(prefix, 0) != 0)
      return std::nullopt;
    std::string id = argv[2].substr(prefix.size());
    if (id.empty() || id.find('/') != std::string::npos) return std::nullopt;
    return id;
  };
  for (pid_t pid : all_pids()) {
    if (!job_of(pid)) continue;
    // Pin first, then look again: if the process is still alive after the second look, the
    // pid was not recycled in between, so the command line read is the pinned process's.
    UniqueFd fd(::pidfd_open(pid, 0));
    if (!fd) continue;
    auto id = job_of(pid);
    if (!id || ::pidfd_send_signal(fd.get(), 0, nullptr, 0) != 0) continue;
    out[*id] = FoundShim{pid, std::move(fd)};
  }
  return out;
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

int kill_session(pid_t sid, const std::string& job_id) {
  // A process that called setsid left the session; the environment the shim gave every job
  // process usually still names the job (a process can change it: the fallback's limit).
  const std::string marker = "TEND_JOB_ID=" + job_id;
  auto belongs = [&](pid_t p) {
    if (auto s = stat_field(p, 6); s && sid > 1 && std::atol(s->c_str()) == sid) return true;
    if (job_id.empty()) return false;
    auto env = read_file("/proc/" + std::to_string(p) + "/environ");
    if (!env) return false;
    for (size_t pos = 0; pos < env->size();) {
      auto end = env->find('\0', pos);
      if (end == std::string::npos) end = env->size();
      if (std::string_view(*env).substr(pos, end - pos) == marker) return true;
      pos = end + 1;
    }
    return false;
  };
  std::set<pid_t> killed;
  for (int pass = 0; pass < 50; ++pass) {
    bool found = false;
    for (pid_t p : all_pids()) {
      if (p == ::getpid() || !belongs(p)) continue;
      found = true;
      if (::kill(p, SIGKILL) == 0) killed.insert(p);
    }
    if (!found) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return static_cast<int>(killed.size());
}

}  // namespace tend::agent
