// Scope level `session`: the fallback when no cgroup v2 is writable.
//
// The main process starts in a new session (the Job asks for it). This process becomes a child
// subreaper, so every orphan of the job is re-parented to us instead of to init. Membership is a
// sweep of /proc: processes in the job's session, descendants (by parent links) of the main
// process or of any process seen in the scope before, and orphans re-parented to us. A process is
// known by (pid, start time), so a recycled PID is never mistaken for a member.
// Weaker than a cgroup, and reported as such: a process that leaves the session and whose parent
// dies before any sweep saw it is attributed to us only as an adopted orphan.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "claims.hpp"
#include "scope_impl.hpp"
#include "sys/procfs.hpp"
#include "sys/syscalls.hpp"
#include "tend/reaper.hpp"

namespace tend::detail {

namespace {

// How many session scopes are alive in this process: with one, every orphan re-parented to us is
// the job's; with several, only descendants of processes already seen can be attributed.
std::atomic<int> g_live_session_scopes{0};

class SessionScope final : public Scope {
 public:
  SessionScope() { g_live_session_scopes.fetch_add(1); }
  ~SessionScope() override { g_live_session_scopes.fetch_sub(1); }

  ScopeLevel level() const override { return ScopeLevel::session; }
  const std::string& cgroup_path() const override { return empty_; }
  int cgroup_fd() const override { return -1; }
  int procs_fd() const override { return -1; }
  int events_fd() const override { return -1; }

  void adopt_main(pid_t pid) override {
    main_ = pid;
    if (auto info = sys::read_proc(pid)) {
      // Group membership counts only for a session or process group the job leads: one started
      // with Command::process_group (a terminal's foreground job) shares our session.
      if (info->sid == pid)
        sid_ = pid;
      else if (info->pgid == pid)
        pgid_ = pid;
      known_[pid] = info->start_time;
    }
  }

  std::vector<pid_t> pids() const override { return sweep(); }
  bool empty() const override { return sweep().empty(); }

  int signal_all(int sig, pid_t except) override {
    std::set<pid_t> done;
    int count = 0;
    for (int pass = 0; pass < 64; ++pass) {
      bool found_new = false;
      for (pid_t pid : sweep()) {
        if (pid == except || !done.insert(pid).second) continue;
        found_new = true;
        // Still the process the sweep saw (same start time), not a recycled PID.
        bool sent = signal_member(pid, sig, [&] {
          auto info = sys::read_proc(pid);
          auto it = known_.find(pid);
          return info && it != known_.end() && info->start_time == it->second;
        });
        count += sent;
      }
      if (!found_new) break;
    }
    return count;
  }

  Expected<void> kill_all() override {
    for (int pass = 0; pass < 64; ++pass) {
      (void)signal_all(SIGKILL, -1);
      Reaper::reap_orphans();
      if (sweep().empty()) break;
    }
    return {};
  }

  Usage usage() const override { return {}; }
  Expected<void> release() override { return {}; }

 private:
  // Live (non-zombie) members now. Also reaps orphans that died, so they stop counting.
  std::vector<pid_t> sweep() const {
    Reaper::reap_orphans();
    auto procs = sys::list_processes();
    std::map<pid_t, const sys::ProcInfo*> by_pid;
    for (const auto& p : procs) by_pid[p.pid] = &p;
    const pid_t self = ::getpid();
    const bool sole_scope = g_live_session_scopes.load() == 1;

    // Forget known processes that are gone (or whose PID now names another process).
    for (auto it = known_.begin(); it != known_.end();) {
      auto p = by_pid.find(it->first);
      if (p == by_pid.end() || p->second->start_time != it->second)
        it = known_.erase(it);
      else
        ++it;
    }
    // Never ourselves or our ancestors, whatever session or group they share with the job.
    std::set<pid_t> ours;
    for (pid_t p = self; p > 0 && ours.insert(p).second;) {
      auto it = by_pid.find(p);
      p = it == by_pid.end() ? 0 : it->second->ppid;
    }
    // Grow the known set to a fixed point: a parent seen before makes its children members.
    bool grew = true;
    while (grew) {
      grew = false;
      for (const auto& p : procs) {
        if (known_.count(p.pid) || ours.count(p.pid)) continue;
        bool member = (sid_ > 0 && p.sid == sid_) || (pgid_ > 0 && p.pgid == pgid_) ||
                      known_.count(p.ppid) ||
                      (sole_scope && p.ppid == self && p.pid != main_ && main_ > 0 &&
                       !is_our_other_child(p.pid));
        if (member) {
          known_[p.pid] = p.start_time;
          grew = true;
        }
      }
    }
    std::vector<pid_t> out;
    for (const auto& [pid, start] : known_) {
      auto p = by_pid.find(pid);
      if (p != by_pid.end() && p->second->state != 'Z' && p->second->state != 'X')
        out.push_back(pid);
    }
    return out;
  }

  // A child of ours that libtend spawned for something else (claimed): not an orphan of the job.
  static bool is_our_other_child(pid_t pid) {
    std::lock_guard lock(claims_mutex());
    return is_claimed_locked(pid);
  }

  std::string empty_;
  pid_t main_ = -1;
  pid_t sid_ = -1;   // the job's own session, if it leads one
  pid_t pgid_ = -1;  // else the job's own process group, if it leads one
  mutable std::map<pid_t, unsigned long long> known_;
};

}  // namespace

Expected<std::unique_ptr<Scope>> make_session_scope(const ScopeOptions&) {
  if (auto r = Reaper::become_subreaper(); !r) return r.error();
  return std::unique_ptr<Scope>(std::make_unique<SessionScope>());
}

}  // namespace tend::detail
