// The Reaper and the claims registry it shares with spawn and Child.
//
// Why it is race-free. A child of this process is in exactly one of two camps:
//   * claimed: started by tend::spawn (or claim()ed). spawn takes claims_mutex() before the clone
//     and claims the PID before releasing it, so there is no instant at which the child exists,
//     could have exited, and is unclaimed. Its owner reaps it through its pidfd and unclaims it
//     only afterwards, so the claim outlives the zombie.
//   * unclaimed: an orphan the kernel re-parented to us. No one in libtend waits for it.
// reap_orphans() holds claims_mutex() from the moment it looks at a zombie (the WNOWAIT peek or
// the /proc listing) until it has reaped it, and reaps only that one PID (P_PID, never P_ALL).
// Because a zombie's PID cannot be reused until someone reaps it, and only we reap unclaimed
// ones, the PID we reap is the zombie we looked at. Claimed children are never touched, so an
// owner's waitid(P_PIDFD) never sees ECHILD or another child's status.
//
// Claims are counted, not a set: after an owner reaps PID p, and before it unclaims, p may
// already belong to a new child that spawn claimed; a count keeps that second claim alive.
//
// Completeness. The caller runs reap_orphans() after every SIGCHLD. A claimed zombie at the head
// of the kernel's child list hides the others from the peek, so then we list our children from
// /proc and reap the unclaimed exited ones. When an unclaim drops the last claim on a PID that
// blocked the peek (or that is still an unreaped zombie: a Child dropped without waiting), we
// raise SIGCHLD on ourselves so the reaper looks again: no orphan stays a zombie for want of a
// signal.
#include "tend/reaper.hpp"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "claims.hpp"
#include "sys/files.hpp"
#include "sys/procfs.hpp"
#include "tend/process.hpp"

namespace tend {
namespace detail {
namespace {

// Leaked on purpose: threads may still spawn or reap while static destructors run at exit.
std::unordered_map<pid_t, int>& claims() {
  static auto* map = new std::unordered_map<pid_t, int>;
  return *map;
}
// Claimed zombies that hid other zombies from the reaper's peek (see "Completeness" above).
std::unordered_set<pid_t>& blocking() {
  static auto* set = new std::unordered_set<pid_t>;
  return *set;
}

// waitid(2) retrying EINTR; si_pid is 0 when WNOHANG found nothing.
int waitid_retry(idtype_t type, id_t id, siginfo_t* si, int options) {
  for (;;) {
    si->si_pid = 0;
    if (::waitid(type, id, si, options) == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

bool is_unreaped_zombie_child(pid_t pid) {
  siginfo_t si{};
  return waitid_retry(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT | __WALL) ==
             0 &&
         si.si_pid == pid;
}

}  // namespace

std::mutex& claims_mutex() {
  static auto* mutex = new std::mutex;
  return *mutex;
}

void claim_locked(pid_t pid) {
  ++claims()[pid];
}

bool is_claimed_locked(pid_t pid) {
  return claims().count(pid) != 0;
}

void unclaim(pid_t pid, bool reaped) {
  bool was_blocking = false;
  {
    std::lock_guard lock(claims_mutex());
    auto it = claims().find(pid);
    if (it == claims().end() || --it->second > 0) return;
    claims().erase(it);
    was_blocking = blocking().erase(pid) != 0;
  }
  // A child its owner dropped unreaped may already be a zombie that no SIGCHLD will announce again.
  if (was_blocking || (!reaped && is_unreaped_zombie_child(pid))) ::kill(::getpid(), SIGCHLD);
}

}  // namespace detail

namespace {

// Reaps `pid` if it is an unclaimed child that has exited. Caller holds claims_mutex().
std::optional<ExitStatus> reap_if_unclaimed_locked(pid_t pid) {
  if (detail::is_claimed_locked(pid)) return std::nullopt;
  siginfo_t si{};
  if (detail::waitid_retry(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | __WALL) != 0 ||
      si.si_pid != pid)
    return std::nullopt;  // still running, or no longer our child
  return ExitStatus::from_siginfo(si);
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// Our children, zombies included: /proc/self/task/*/children (an orphan is adopted by one of our
// threads and listed under it), or a scan of every process's parent where that file is absent.
std::vector<pid_t> list_children() {
  std::vector<pid_t> pids;
  bool listed = false;  // at least one children file was readable
  std::unique_ptr<DIR, DirCloser> tasks(::opendir("/proc/self/task"));  // O_CLOEXEC in glibc
  while (tasks) {
    const dirent* entry = ::readdir(tasks.get());
    if (entry == nullptr) break;
    if (entry->d_name[0] == '.') continue;
    // A thread that just ended has no file any more; a kernel without CONFIG_PROC_CHILDREN has
    // none at all.
    auto text = sys::read_file(std::string("/proc/self/task/") + entry->d_name + "/children");
    if (!text.ok()) continue;
    listed = true;
    auto listed_here = parse_pid_list(*text);
    pids.insert(pids.end(), listed_here.begin(), listed_here.end());
  }
  if (listed) return pids;
  const pid_t self = ::getpid();
  for (const auto& proc : sys::list_processes())
    if (proc.ppid == self) pids.push_back(proc.pid);
  return pids;
}

// The fallback when a claimed zombie hides the rest from the peek: reap each unclaimed exited
// child found in /proc. Each PID is checked and reaped under the mutex, so a PID that changed
// hands since the listing is either claimed now (skipped) or not our child (ECHILD).
int reap_listed(const std::function<void(pid_t, const ExitStatus&)>& on_reaped) {
  int reaped = 0;
  for (pid_t pid : list_children()) {
    std::optional<ExitStatus> status;
    {
      std::lock_guard lock(detail::claims_mutex());
      status = reap_if_unclaimed_locked(pid);
    }
    if (!status) continue;
    ++reaped;
    if (on_reaped) on_reaped(pid, *status);
  }
  return reaped;
}

}  // namespace

Expected<void> Reaper::become_subreaper() {
  if (is_pid1()) return {};
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    return Error::from_errno("prctl PR_SET_CHILD_SUBREAPER");
  return {};
}

bool Reaper::is_pid1() {
  return ::getpid() == 1;
}

void Reaper::claim(pid_t pid) {
  std::lock_guard lock(detail::claims_mutex());
  detail::claim_locked(pid);
}

void Reaper::unclaim(pid_t pid) {
  detail::unclaim(pid, /*reaped=*/false);
}

int Reaper::reap_orphans(const std::function<void(pid_t, const ExitStatus&)>& on_reaped) {
  int reaped = 0;
  for (;;) {
    pid_t pid = 0;
    std::optional<ExitStatus> status;
    {
      std::lock_guard lock(detail::claims_mutex());
      siginfo_t si{};
      // Peek at one zombie without reaping it: nothing to do when there is none (or no child).
      if (detail::waitid_retry(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0 ||
          si.si_pid == 0)
        break;
      pid = si.si_pid;
      if (detail::is_claimed_locked(pid)) {
        // Its owner will reap it; until then every peek returns it. Remember it so that its
        // unclaim wakes us again, and take the slow path for the others now.
        detail::blocking().insert(pid);
      } else {
        status = reap_if_unclaimed_locked(pid);
        if (!status) break;  // cannot happen (it is our unclaimed zombie); never spin on it
      }
    }
    if (!status) return reaped + reap_listed(on_reaped);
    ++reaped;
    if (on_reaped) on_reaped(pid, *status);  // outside the mutex: it may spawn
  }
  return reaped;
}

Expected<UniqueFd> make_signalfd(const std::vector<int>& signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) {
    if (sig == SIGKILL || sig == SIGSTOP || sigaddset(&set, sig) != 0)
      return Error{"signalfd", EINVAL, {}, "signal " + std::to_string(sig) + " cannot be caught"};
  }
  // Block first: a signal that arrives in between stays pending and the fd reports it.
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    return Error{"pthread_sigmask", rc, {}, {}};
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return Error::from_errno("signalfd");
  return UniqueFd(fd);
}

}  // namespace tend
