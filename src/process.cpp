// The public face of the process table: src/sys/procfs does the reading and parsing.
#include "tend/process.hpp"

#include <charconv>

#include "scope_impl.hpp"
#include "sys/files.hpp"
#include "sys/procfs.hpp"
#include "sys/syscalls.hpp"

namespace tend {

std::optional<ProcessInfo> read_process(pid_t pid) {
  return sys::read_proc(pid);
}

std::vector<ProcessInfo> list_processes() {
  return sys::list_processes();
}

std::optional<std::vector<std::string>> process_cmdline(pid_t pid) {
  return sys::read_proc_strings(pid, "cmdline");
}

std::optional<std::vector<std::string>> process_environ(pid_t pid) {
  return sys::read_proc_strings(pid, "environ");
}

Expected<UniqueFd> open_pidfd(pid_t pid) {
  int fd = sys::pidfd_open(pid, 0);  // pidfds are always close-on-exec
  if (fd < 0) {
    const int code = errno;  // before the PID's text is built: that may allocate
    return Error::of_errno(code, "pidfd_open", std::to_string(pid));
  }
  return UniqueFd(fd);
}

bool signal_process(const ProcessInfo& process, int sig) {
  return detail::signal_member(process.pid, sig, [&] {
    auto now = sys::read_proc(process.pid);
    return now && now->start_time == process.start_time;
  });
}

std::vector<pid_t> parse_pid_list(std::string_view text) {
  std::vector<pid_t> out;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    if (*p < '0' || *p > '9') {
      ++p;
      continue;
    }
    pid_t pid = 0;
    auto [next, ec] = std::from_chars(p, end, pid);
    if (ec == std::errc()) out.push_back(pid);
    p = next;  // past the digits, also when they overflow a pid_t
  }
  return out;
}

Expected<std::string> sibling_executable(std::string_view name) {
  auto self = sys::read_link("/proc/self/exe");
  if (!self) return self.error();
  return self->substr(0, self->rfind('/') + 1) + std::string(name);
}

}  // namespace tend
