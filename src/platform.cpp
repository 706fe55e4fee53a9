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
  p.clone3 = sys::clone3_probe() < 0 && errno == EINVAL;              // 5.3
  p.clone_into_cgroup = p.clone3 && sys::clone3_into_cgroup_works();  // 5.7
  int fd = sys::pidfd_open(::getpid(), 0);
  p.pidfd = fd >= 0;
  if (fd >= 0) {
    p.pidfd_send_signal = sys::pidfd_send_signal(fd, 0) == 0;
    ::close(fd);
  }
  p.close_range = sys::close_range_cloexec_works();  // with CLOSE_RANGE_CLOEXEC: 5.11
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
      const int code = errno;
      p.cgroup.writable = false;
      p.cgroup.why_not = probe + ": " + errno_text(code);
    }
  }
  p.spawn_level = current_spawn_level();
  p.scope_level = p.cgroup.writable ? ScopeLevel::cgroup : ScopeLevel::session;
  return p;
}

}  // namespace tend
