// The public face of the process table: src/sys/procfs does the reading and parsing.
#include "tend/process.hpp"

#include "scope_impl.hpp"
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

}  // namespace tend
