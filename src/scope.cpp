#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "limits_impl.hpp"
#include "scope_impl.hpp"
#include "sys/procfs.hpp"
#include "sys/syscalls.hpp"
#include "tend/scope.hpp"

namespace tend {

const char* to_string(ScopeLevel l) {
  switch (l) {
    case ScopeLevel::cgroup:
      return "cgroup";
    case ScopeLevel::session:
      return "session";
  }
  return "?";
}

namespace {
// Parsing /proc/self/mountinfo costs more than the rest of a job's setup, and cgroup2 is mounted
// once at boot: it is looked up once per process (again while it is not found).
std::string cgroup2_mount_cached() {
  static const std::string first = sys::cgroup2_mount();
  return first.empty() ? sys::cgroup2_mount() : first;
}
}  // namespace

CgroupSupport probe_cgroup(const std::string& parent) {
  CgroupSupport cg;
  cg.mount = cgroup2_mount_cached();
  if (cg.mount.empty()) {
    cg.why_not = "no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)";
    return cg;
  }
  if (!parent.empty()) {
    cg.self = parent;
  } else {
    auto own = sys::own_cgroup_v2();
    if (!own) {
      cg.why_not = "this process is in no cgroup v2 (/proc/self/cgroup has no 0:: line)";
      return cg;
    }
    cg.self = cg.mount + (*own == "/" ? "" : *own);
    // A supervisor that moved into its leaf to give controllers to its jobs' cgroups (see
    // tend/limits.hpp) makes them beside the leaf, in the cgroup it moved out of.
    const std::string leaf = std::string("/") + detail::kSupervisorLeaf;
    if (cg.self.size() > leaf.size() && cg.self.ends_with(leaf))
      cg.self.resize(cg.self.size() - leaf.size());
  }
  cg.has_kill = ::access((cg.self + "/cgroup.kill").c_str(), F_OK) == 0 ||
                ::access((cg.mount + "/cgroup.kill").c_str(), F_OK) == 0;
  // Writable means we may make a child cgroup and move processes into it.
  if (::access(cg.self.c_str(), W_OK) != 0) {
    const int code = errno;
    cg.why_not = cg.self + ": " + errno_text(code) +
                 " (run as root, or in a delegated cgroup: systemd-run --user -p Delegate=yes)";
    return cg;
  }
  cg.writable = true;
  return cg;
}

namespace {
// The supervisor's own cgroup as the parent of its jobs' cgroups: probed at its first job and then
// kept. Reading /proc/self/cgroup takes the kernel's cgroup_mutex, which every mkdir and rmdir of
// a cgroup on the host holds: milliseconds per job on a busy machine. If the process is moved
// later, its jobs' cgroups are still made where it was: each is still a cgroup of its own, so
// containment does not depend on where it is; once that place is gone or refuses (mkdir fails),
// the probe is made again (Scope::create).
std::mutex g_own_mutex;
std::optional<CgroupSupport> g_own;

CgroupSupport own_cgroup_support() {
  std::lock_guard lock(g_own_mutex);
  if (g_own) return *g_own;
  CgroupSupport cg = probe_cgroup();
  if (cg.writable) g_own = cg;
  return cg;
}

// True if there was a kept probe to forget.
bool forget_own_cgroup_support() {
  std::lock_guard lock(g_own_mutex);
  bool had = g_own.has_value();
  g_own.reset();
  return had;
}
}  // namespace

void detail::forget_own_cgroup() {
  (void)forget_own_cgroup_support();
}

bool detail::signal_member(pid_t pid, int sig, const std::function<bool()>& is_member) {
  int fd = sys::pidfd_open(pid, 0);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM)) return is_member() && ::kill(pid, sig) == 0;
  if (fd < 0) return false;  // already gone
  UniqueFd pidfd(fd);
  return is_member() && sys::pidfd_send_signal(pidfd.get(), sig) == 0;
}

Expected<bool> Scope::wait_empty(std::chrono::milliseconds timeout) const {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // empty() reads cgroup.events through events_fd(), which re-arms its notification.
    if (empty()) return true;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    if (events_fd() < 0) {
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(10)));
      continue;
    }
    struct pollfd p {
      events_fd(), POLLPRI, 0
    };
    int ms = static_cast<int>(std::min<long long>(left.count(), 60'000));  // re-checked anyway
    if (::poll(&p, 1, ms) < 0 && errno != EINTR)
      return Error::from_errno("poll cgroup.events", cgroup_path());
  }
}

const Limits& Scope::limits() const {
  static const Limits none;
  return none;
}

Expected<std::unique_ptr<Scope>> Scope::create(const ScopeOptions& opts) {
  if (opts.limits.any()) return detail::make_limited_scope(opts);
  std::optional<ScopeLevel> level = opts.level;
  if (!level) {
    if (const char* env = std::getenv("TEND_SCOPE")) {
      if (std::strcmp(env, "cgroup") == 0)
        level = ScopeLevel::cgroup;
      else if (std::strcmp(env, "session") == 0)
        level = ScopeLevel::session;
    }
  }
  if (level == ScopeLevel::session) return detail::make_session_scope(opts);
  const bool own = opts.cgroup_parent.empty();
  auto make = [&](const CgroupSupport& cg) -> Expected<std::unique_ptr<Scope>> {
    if (!cg.writable) return Error::with_detail("cgroup scope", cg.why_not);
    return detail::make_cgroup_scope(opts, cg);
  };
  auto s = make(own ? own_cgroup_support() : probe_cgroup(opts.cgroup_parent));
  // The kept probe may be stale (this process was moved and its old cgroup removed): once more.
  if (!s && own && forget_own_cgroup_support()) s = make(own_cgroup_support());
  if (s || level == ScopeLevel::cgroup) return s;
  // A name already taken is the caller's clash, not a host without cgroups: a session in its
  // place would be weaker containment that nobody asked for.
  if (!opts.name.empty() && s.error().code == EEXIST) return s;
  return detail::make_session_scope(opts);
}

}  // namespace tend
