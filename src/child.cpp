#include "tend/child.hpp"

#include <poll.h>
#include <signal.h>
#include <string.h>

#include <atomic>
#include <mutex>

#include "claims.hpp"
#include "sys/syscalls.hpp"

namespace tend {

ExitStatus ExitStatus::from_siginfo(const siginfo_t& si) {
  ExitStatus st;
  if (si.si_code == CLD_EXITED) {
    st.kind = Kind::exited;
  } else {
    st.kind = Kind::signaled;
    st.core_dumped = si.si_code == CLD_DUMPED;
  }
  st.value = si.si_status;
  return st;
}

namespace {

// waitid on the pidfd (5.4). On 5.3, which has pidfds but not P_PIDFD (EINVAL), the PID: safe
// for a claimed child, whose PID no one else reaps and so cannot be reused meanwhile.
int wait_child(int pidfd, pid_t pid, siginfo_t* si, int options, struct rusage* ru) {
  static std::atomic<bool> by_pid{false};
  int r;
  if (!by_pid.load(std::memory_order_relaxed)) {
    do r = sys::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), si, options, ru);
    while (r < 0 && errno == EINTR);
    if (r == 0 || errno != EINVAL) return r;
    by_pid.store(true, std::memory_order_relaxed);
  }
  do r = sys::waitid(P_PID, static_cast<id_t>(pid), si, options, ru);
  while (r < 0 && errno == EINTR);
  return r;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited()) return "exited with " + std::to_string(value);
  const char* abbrev = ::sigabbrev_np(value);
  std::string name = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(value);
  return "killed by " + name + (core_dumped ? " (core dumped)" : "");
}

const char* to_string(SpawnLevel l) {
  switch (l) {
    case SpawnLevel::clone3:
      return "clone3";
    case SpawnLevel::clone_pidfd:
      return "clone";
  }
  return "?";
}

Child::Child(Child&& o) noexcept
    : process_(std::move(o.process_)),
      status_(std::move(o.status_)),
      rusage_(o.rusage_),
      level_(o.level_) {
  for (int i = 0; i < 3; ++i) pipes_[i] = std::move(o.pipes_[i]);
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    release_claim();
    process_ = std::move(o.process_);
    status_ = std::move(o.status_);
    rusage_ = o.rusage_;
    level_ = o.level_;
    for (int i = 0; i < 3; ++i) pipes_[i] = std::move(o.pipes_[i]);
  }
  return *this;
}

Child::~Child() {
  release_claim();
}

void Child::release_claim() {
  // Not reaped: hand the process over to the Reaper (if the program has one).
  if (pid() > 0 && !status_) detail::unclaim(pid(), /*reaped=*/false);
}

Expected<std::optional<ExitStatus>> Child::try_wait() {
  if (status_) return status_;
  if (!valid()) return Error{"waitid", EBADF, {}, {}};
  siginfo_t si{};
  if (wait_child(pidfd(), pid(), &si, WEXITED | WNOHANG, &rusage_) < 0)
    return Error::from_errno("waitid");
  if (si.si_pid == 0) return std::optional<ExitStatus>{};
  status_ = ExitStatus::from_siginfo(si);
  // Unclaimed only after the reap, so the claim outlives the zombie; claims are counted, so if a
  // new child already got this PID and was claimed, its claim survives ours.
  detail::unclaim(pid(), /*reaped=*/true);
  return status_;
}

Expected<std::optional<ExitStatus>> Child::wait_until(Clock::time_point deadline) {
  for (;;) {
    auto st = try_wait();
    if (!st || st->has_value()) return st;
    if (!process_.wait_until(deadline)) return std::optional<ExitStatus>{};
  }
}

Expected<ExitStatus> Child::wait() {
  if (status_) return *status_;
  if (!valid()) return Error{"waitid", EBADF, {}, {}};
  // One blocking waitid on the pidfd: it reaps exactly this child, and nothing else can.
  siginfo_t si{};
  if (wait_child(pidfd(), pid(), &si, WEXITED, &rusage_) < 0) return Error::from_errno("waitid");
  status_ = ExitStatus::from_siginfo(si);
  detail::unclaim(pid(), /*reaped=*/true);
  return *status_;
}

Expected<void> Child::signal(int sig) {
  return process_.signal(sig);
}

}  // namespace tend
