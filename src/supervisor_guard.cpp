#include "supervisor_guard.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>

#include "claims.hpp"
#include "sys/syscalls.hpp"
#include "tend/process.hpp"
#include "tend/fd.hpp"

namespace tend::detail {
namespace {

// What the supervisor writes to the guard: fixed-size records on a stream socket (a seqpacket
// socket would block the supervisor after 10 unread records, net.unix.max_dgram_qlen). `arm`
// carries the job's cgroup directory fd (SCM_RIGHTS) at the cgroup level.
struct Message {
  enum Kind : int32_t { arm = 1, main_pid = 2, disarm = 3, abandon = 4 };
  int32_t kind;
  int32_t pid;
  uint64_t id;
};
static_assert(sizeof(Message) == 16);
constexpr int kRecordsPerNudge = 32;

// ---- The guard process. Async-signal-safe calls only: it is a fork of a process that may have
// threads, so it never allocates. Every signal stays blocked (the supervisor blocked them around
// the fork).

void pause_ms(long ms) {
  struct timespec ts {
    0, ms * 1'000'000L
  };
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// One job the guard watches over.
struct Entry {
  uint64_t id;
  int cgroup_fd;  // -1: session level
  pid_t main;     // the job's main process (its group is killed at the session level)
};

// The guard's jobs, in pages of its own (mmap/mremap: no allocator).
class Table {
 public:
  bool add(Entry e) {
    if (n_ == cap_ && !grow()) return false;
    items_[n_++] = e;
    return true;
  }
  Entry* find(uint64_t id) {
    for (size_t i = 0; i < n_; ++i)
      if (items_[i].id == id) return &items_[i];
    return nullptr;
  }
  void remove(Entry* e) { *e = items_[--n_]; }
  Entry* begin() { return items_; }
  size_t size() const { return n_; }

 private:
  bool grow() {
    size_t cap = cap_ ? cap_ * 2 : 4096 / sizeof(Entry);
    void* p = cap_ ? ::mremap(items_, cap_ * sizeof(Entry), cap * sizeof(Entry), MREMAP_MAYMOVE)
                   : ::mmap(nullptr, cap * sizeof(Entry), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    items_ = static_cast<Entry*>(p);
    cap_ = cap;
    return true;
  }
  Entry* items_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

// Before cgroup.kill (5.14): SIGKILL every PID listed until none is (killed processes cannot
// fork, so this converges).
void sweep_cgroup(int cgroup_fd) {
  for (int pass = 0; pass < 64; ++pass) {
    int procs = ::openat(cgroup_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    if (procs < 0) return;
    char buf[4096];
    bool any = false;
    long pid = 0;
    bool in_number = false;
    for (;;) {
      ssize_t n = ::read(procs, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] >= '0' && buf[i] <= '9') {
          pid = pid * 10 + (buf[i] - '0');
          in_number = true;
        } else if (in_number) {
          ::kill(static_cast<pid_t>(pid), SIGKILL);
          any = true;
          pid = 0;
          in_number = false;
        }
      }
    }
    ::close(procs);
    if (!any) return;
    pause_ms(1);
  }
}

void kill_job(const Entry& e) {
  if (e.cgroup_fd < 0) {
    // The job leads its own session or process group.
    if (e.main > 0) ::kill(-e.main, SIGKILL);
    return;
  }
  int kill_fd = ::openat(e.cgroup_fd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
  if (kill_fd < 0 || ::write(kill_fd, "1", 1) != 1) sweep_cgroup(e.cgroup_fd);
  if (kill_fd >= 0) ::close(kill_fd);
}

// The path of an open directory, through /proc/self/fd (no snprintf: not async-signal-safe).
bool path_of(int fd, char (&path)[PATH_MAX]) {
  char link[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(fd); n == 0 || v > 0; v /= 10) digits[n++] = '0' + v % 10;
  size_t at = std::strlen(link);
  while (n > 0) link[at++] = digits[--n];
  link[at] = '\0';
  ssize_t len = ::readlink(link, path, PATH_MAX - 1);
  if (len <= 0) return false;
  path[len] = '\0';
  return true;
}

// Removes the killed jobs' cgroups (and closes their fds). The exits of killed processes take a
// moment (at most ~2 s here); what is left is removed by the next tend's stale-scope sweep.
void remove_cgroups(Entry* jobs, size_t n) {
  char path[PATH_MAX];
  for (int round = 0; round < 200; ++round) {
    bool busy = false;
    for (size_t i = 0; i < n; ++i) {
      int& fd = jobs[i].cgroup_fd;
      if (fd < 0) continue;
      if (path_of(fd, path) && ::rmdir(path) != 0 && errno == EBUSY) {
        busy = true;
        continue;
      }
      ::close(fd);
      fd = -1;
    }
    if (!busy) return;
    pause_ms(10);
  }
}

enum class Got { record, none, end };

// Reads one record (and the fd that came with it, else -1): `none` if there is none yet, `end`
// at EOF or on an error.
Got receive(int sock, Message& m, int& fd) {
  fd = -1;
  char* into = reinterpret_cast<char*>(&m);
  size_t got = 0;
  while (got < sizeof m) {
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov {
      into + got, sizeof m - got
    };
    struct msghdr h {};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    // Records are written whole: once one has begun, the rest is waited for.
    ssize_t n = ::recvmsg(sock, &h, MSG_CMSG_CLOEXEC | (got == 0 ? MSG_DONTWAIT : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && got == 0) return Got::none;
    if (n <= 0) {
      if (fd >= 0) ::close(fd);
      return Got::end;
    }
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
          c->cmsg_len == CMSG_LEN(sizeof(int)))
        std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    got += static_cast<size_t>(n);
  }
  return Got::record;
}

void handle(Table& jobs, const Message& m, int fd) {
  Entry* e = jobs.find(m.id);
  switch (m.kind) {
    case Message::arm:
      // A job registered twice (sent again to a restarted guard) keeps its first entry. Out of
      // memory, the job is not guarded: the supervisor is alive and still ends it itself.
      if (!e && jobs.add({m.id, fd, 0})) return;
      break;
    case Message::main_pid:
      if (e) e->main = m.pid;
      break;
    case Message::disarm:
      if (!e) break;
      if (e->cgroup_fd >= 0) ::close(e->cgroup_fd);
      jobs.remove(e);
      break;
    case Message::abandon:
      if (!e) break;
      kill_job(*e);
      remove_cgroups(e, 1);
      jobs.remove(e);
      break;
  }
  if (fd >= 0) ::close(fd);  // not kept
}

// The guard's whole life. It sleeps until the supervisor is gone (its ends of both sockets
// closed) or nudges it to read what has queued up: records alone do not wake it (poll asks
// `records` for POLLRDHUP only), so a job costs it no wake-up of its own.
[[noreturn]] void guard_main(int records, int nudges) {
  (void)::setsid();  // a kill of the supervisor's process group must not take the guard too
  // Its command line is the supervisor's (a fork): the name tells them apart in ps and /proc.
  (void)::prctl(PR_SET_NAME, kGuardProcessName.data(), 0, 0, 0);
  const int keep[] = {records, nudges};
  (void)sys::close_except(keep, 2);
  // It holds one fd per running job of the supervisor (which holds several per job itself).
  struct rlimit files {};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  Table jobs;
  for (bool over = false; !over;) {
    struct pollfd p[2] = {{records, POLLRDHUP, 0}, {nudges, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno != EINTR) pause_ms(10);
      continue;
    }
    over = (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0 ||
           (p[1].revents & (POLLHUP | POLLERR)) != 0;
    char sink[64];
    while (::recv(nudges, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    // Everything written so far, also what a dead supervisor wrote last.
    for (;;) {
      Message m{};
      int fd = -1;
      Got got = receive(records, m, fd);
      if (got == Got::none) break;
      if (got == Got::end) {
        over = true;
        break;
      }
      handle(jobs, m, fd);
    }
  }
  // EOF (or an error): the supervisor is gone without ending these jobs.
  for (size_t i = 0; i < jobs.size(); ++i) kill_job(jobs.begin()[i]);
  remove_cgroups(jobs.begin(), jobs.size());
  ::_exit(0);
}

// ---- The supervisor's side: one guard per process, shared by its jobs.

class Link {
 public:
  // Registers a job (with its cgroup fd, -1 at the session level); 0 if it cannot be guarded.
  Expected<uint64_t> arm(int cgroup_fd) {
    std::lock_guard lock(mutex_);
    uint64_t id = next_id_++;
    if (auto r = deliver({Message::arm, 0, id}, cgroup_fd); !r) return r.error();
    live_[id] = {cgroup_fd, 0};
    return id;
  }
  void set_main(uint64_t id, pid_t pid) {
    std::lock_guard lock(mutex_);
    auto it = live_.find(id);
    if (it == live_.end()) return;
    it->second.main = pid;
    (void)deliver({Message::main_pid, pid, id}, -1);
  }
  // `kill`: abandoned (the guard kills it), else disarmed.
  void end(uint64_t id, bool kill) {
    std::lock_guard lock(mutex_);
    if (!live_.count(id)) return;
    (void)deliver({kill ? Message::abandon : Message::disarm, 0, id}, -1);
    live_.erase(id);
  }
  pid_t pid() {
    std::lock_guard lock(mutex_);
    return owner_ == ::getpid() ? pid_ : -1;
  }

 private:
  struct Registered {
    int cgroup_fd;  // the Scope's: it outlives the registration (Job ends it before releasing)
    pid_t main;
  };

  bool send(const Message& m, int fd) {
    struct iovec iov {
      const_cast<Message*>(&m), sizeof m
    };
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr h {};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    if (fd >= 0) {
      h.msg_control = control;
      h.msg_controllen = sizeof control;
      struct cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do n = ::sendmsg(sock_.get(), &h, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof m);  // 16 bytes on a stream socket: never partial
  }

  // Sends `m`; to a new guard if there is none yet, if this is a forked child of the process
  // that started it, or if it died (its end is closed only by its exit).
  Expected<void> deliver(const Message& m, int fd) {
    if (owner_ != ::getpid()) forget_parents_guard();
    if (sock_) {
      if (send(m, fd)) return queued(m);
      if (errno != EPIPE && errno != ECONNRESET) return Error::from_errno("write to guard");
      reap();
    }
    if (auto r = start(); !r) return r;
    if (!send(m, fd)) return Error::from_errno("write to guard");
    return queued(m);
  }

  // Records do not wake the guard: it is nudged to read them every kRecordsPerNudge records
  // (which bounds the fds in flight and the socket's queue), and at once for an abandoned job.
  Expected<void> queued(const Message& m) {
    if (++unread_ < kRecordsPerNudge && m.kind != Message::abandon) return {};
    unread_ = 0;
    ssize_t n;
    do n = ::send(nudge_.get(), "n", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    // EAGAIN: nudges are queued already. A dead guard is found by the next record.
    return {};
  }

  // In a forked child of the supervisor: that guard and those jobs are the parent's.
  void forget_parents_guard() {
    sock_.reset();  // our copies: closing them leaves the parent's guard alone
    nudge_.reset();
    pidfd_.reset();
    live_.clear();
    pid_ = -1;
    owner_ = ::getpid();
  }

  void reap() {
    sock_.reset();
    nudge_.reset();
    siginfo_t si{};
    int r;
    do
      r = sys::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si,
                      WEXITED | __WALL, nullptr);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EINVAL) {  // 5.3: no P_PIDFD; the PID is ours to reap (claimed)
      do r = sys::waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | __WALL, nullptr);
      while (r < 0 && errno == EINTR);
    }
    unclaim(pid_, /*reaped=*/r == 0);
    pidfd_.reset();
    pid_ = -1;
  }

  Expected<void> start() {
    int sv[2], nv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return Error::from_errno("socketpair");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nv) != 0)
      return Error::from_errno("socketpair");
    UniqueFd our_nudge(nv[0]), their_nudge(nv[1]);
    // No handler of ours may run in the guard; it keeps this mask for its whole life.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    pid_t pid;
    int fork_errno = 0;
    {
      // Claimed before the Reaper can see it exit: only we reap it.
      std::lock_guard lock(claims_mutex());
      pid = sys::fork_pidfd(&pidfd);
      if (pid == 0) guard_main(theirs.get(), their_nudge.get());
      if (pid < 0) fork_errno = errno;
      if (pid > 0) claim_locked(pid);
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return Error::of_errno(fork_errno, "fork guard");
    sock_ = std::move(ours);
    nudge_ = std::move(our_nudge);
    unread_ = 0;
    pidfd_.reset(pidfd);
    pid_ = pid;
    owner_ = ::getpid();
    // Jobs registered with a guard that died are registered with this one.
    for (const auto& [id, r] : live_) {
      Message arm{Message::arm, 0, id}, main{Message::main_pid, r.main, id};
      if (!send(arm, r.cgroup_fd)) return Error::from_errno("write to guard");
      (void)queued(arm);
      if (r.main <= 0) continue;
      if (!send(main, -1)) return Error::from_errno("write to guard");
      (void)queued(main);
    }
    return {};
  }

  std::mutex mutex_;
  pid_t owner_ = -1;  // the process that started the guard
  pid_t pid_ = -1;
  UniqueFd pidfd_, sock_, nudge_;
  int unread_ = 0;  // records written since the last nudge
  uint64_t next_id_ = 1;
  std::map<uint64_t, Registered> live_;
};

// Never destroyed: a Job may end in another static object's destructor. At exit the kernel
// closes our end, and the guard ends whatever job is still registered.
Link& link() {
  static Link* l = new Link;
  return *l;
}

}  // namespace

Expected<std::unique_ptr<SupervisorGuard>> SupervisorGuard::start(const Scope& scope) {
  int cgroup_fd = scope.level() == ScopeLevel::cgroup ? scope.cgroup_fd() : -1;
  auto id = link().arm(cgroup_fd);
  if (!id) return id.error();
  return std::unique_ptr<SupervisorGuard>(new SupervisorGuard(*id, cgroup_fd < 0));
}

void SupervisorGuard::set_main(pid_t pid) {
  // Only the session level kills by the main process's group; a cgroup is killed whole.
  if (!disarmed_ && session_) link().set_main(id_, pid);
}

void SupervisorGuard::disarm() {
  if (disarmed_) return;
  link().end(id_, /*kill=*/false);
  disarmed_ = true;
}

SupervisorGuard::~SupervisorGuard() {
  if (!disarmed_) link().end(id_, /*kill=*/true);
}

pid_t SupervisorGuard::pid() const {
  return link().pid();
}

pid_t guard_process_pid() {
  return link().pid();
}

}  // namespace tend::detail
