#include "tend/platform.hpp"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <unistd.h>
#include <cstring>

#include "sys/syscalls.hpp"

namespace tend {

Platform probe_platform() {
  Platform p;
  struct utsname u {};
  if (::uname(&u) == 0) p.kernel = u.release;

  // Each probe is a call that cannot change anything: it tells "absent or forbidden"
  // (ENOSYS, EPERM from seccomp) from "present" (any other answer to bad arguments).
  p.clone3 = sys::clone3_probe() < 0 && errno == EINVAL;
  p.clone_into_cgroup = p.clone3;  // same syscall since 5.7; the kernel here is newer if clone3 is
  int fd = sys::pidfd_open(::getpid(), 0);
  p.pidfd = fd >= 0;
  if (fd >= 0) {
    p.pidfd_send_signal = sys::pidfd_send_signal(fd, 0) == 0;
    ::close(fd);
  }
  p.close_range = sys::close_range(~0U, ~0U, 0) == 0 || errno != ENOSYS;
  int was = 0;
  p.subreaper = ::prctl(PR_GET_CHILD_SUBREAPER, &was) == 0;

  p.cgroup = probe_cgroup();
  if (p.cgroup.writable) {
    // Make and remove one empty cgroup: access(W_OK) can lie under LSMs and read-only mounts.
    std::string probe = p.cgroup.self + "/tend-probe-" + std::to_string(::getpid());
    if (::mkdir(probe.c_str(), 0755) == 0) {
      // The root cgroup has no cgroup.kill: look in a child, where jobs will be.
      p.cgroup.has_kill = ::access((probe + "/cgroup.kill").c_str(), F_OK) == 0;
      ::rmdir(probe.c_str());
    } else {
      p.cgroup.writable = false;
      p.cgroup.why_not = probe + ": " + std::strerror(errno);
    }
  }
  p.spawn_level = current_spawn_level();
  p.scope_level = p.cgroup.writable ? ScopeLevel::cgroup : ScopeLevel::session;
  p.limits = probe_limits();
  return p;
}

}  // namespace tend
