#include "tend/platform.hpp"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <sys/wait.h>
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
    // We are not our own child: ECHILD where P_PIDFD exists, EINVAL on 5.3.
    siginfo_t si{};
    p.waitid_pidfd = sys::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &si,
                                 WEXITED | WNOHANG, nullptr) == 0 ||
                     errno != EINVAL;
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
  p.limits = probe_limits();
  return p;
}

std::vector<MissingFeature> missing_features(const Platform& p) {
  std::vector<MissingFeature> out;
  if (!p.pidfd)
    out.push_back({"pidfd_open", "5.3",
                   "nothing: tend needs pidfds (Linux 5.3, and no seccomp filter refusing them)"});
  if (p.pidfd && !p.waitid_pidfd)
    out.push_back({"waitid(P_PIDFD)", "5.4", "waits by PID (safe: only tend reaps its children)"});
  if (!p.clone3)
    out.push_back({"clone3", "5.3", "clone(CLONE_PIDFD), then joins the cgroup before exec"});
  if (p.clone3 && !p.clone_into_cgroup)
    out.push_back({"CLONE_INTO_CGROUP", "5.7", "the child joins its cgroup before exec"});
  if (!p.close_range)
    out.push_back({"close_range(CLOSE_RANGE_CLOEXEC)", "5.11",
                   "marks inherited fds close-on-exec by walking /proc/self/fd"});
  if (p.cgroup.writable && !p.cgroup.has_kill)
    out.push_back({"cgroup.kill", "5.14", "kills a job's cgroup by SIGKILL sweeps of its PIDs"});
  return out;
}

}  // namespace tend
