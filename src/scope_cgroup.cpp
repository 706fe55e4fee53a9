// Scope level `cgroup`: one cgroup v2 directory per job.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>

#include "scope_impl.hpp"
#include "scope_pool.hpp"
#include "sys/files.hpp"
#include "sys/procfs.hpp"
#include "sys/syscalls.hpp"

namespace tend::detail {

namespace {

std::atomic<unsigned> g_sequence{0};

std::string random_suffix() {
  uint32_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
    r = static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", r);
  return buf;
}

class CgroupScope final : public Scope {
 public:
  CgroupScope(std::string path, UniqueFd dir, UniqueFd procs, UniqueFd events, bool has_kill)
      : path_(std::move(path)),
        dir_(std::move(dir)),
        procs_(std::move(procs)),
        events_(std::move(events)),
        has_kill_(has_kill) {}
  ~CgroupScope() override { (void)release(); }

  ScopeLevel level() const override { return ScopeLevel::cgroup; }
  const std::string& cgroup_path() const override { return path_; }
  int cgroup_fd() const override { return dir_.get(); }
  int procs_fd() const override { return procs_.get(); }
  void adopt_main(pid_t) override {}

  std::vector<pid_t> pids() const override {
    // Released: the directory is gone, or pooled and perhaps another job's by now.
    if (released_) return {};
    auto text = sys::read_file(path_ + "/cgroup.procs");
    return text ? parse_pid_list(*text) : std::vector<pid_t>{};
  }

  bool empty() const override {
    auto text = sys::read_fd(events_.get());
    if (!text) return pids().empty();
    return text->find("populated 0") != std::string::npos;
  }

  int events_fd() const override { return events_.get(); }

  int signal_all(int sig, pid_t except) override {
    // PIDs are recycled (pid_max is often 32768), so each one is pinned with a pidfd and checked
    // to still be in this cgroup before it is signalled: the signal can then only reach a
    // process of this job. Sweeps repeat until one finds nothing new (children forked meanwhile),
    // for a bounded time: a fork bomb under a process limit refills every slot a signal frees,
    // so the sweeps never converge, and the caller (a stop policy waiting to escalate to
    // cgroup.kill) must get control back.
    std::set<pid_t> done;
    int count = 0;
    const std::string want = "0::" + relative_ + "\n";
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    for (int pass = 0; pass < 64 && std::chrono::steady_clock::now() < give_up; ++pass) {
      bool found_new = false;
      for (pid_t pid : pids()) {
        if (pid == except || !done.insert(pid).second) continue;
        found_new = true;
        bool sent = signal_member(pid, sig, [&] {
          auto cg = sys::read_file("/proc/" + std::to_string(pid) + "/cgroup");
          return cg && cg->find(want) != std::string::npos;
        });
        count += sent;
      }
      if (!found_new) break;
    }
    return count;
  }

  Expected<void> kill_all() override {
    if (has_kill_) {
      auto fd = sys::open_at(dir_.get(), "cgroup.kill", O_WRONLY);
      if (fd) {
        if (auto r = sys::write_fd(fd->get(), "1", "write cgroup.kill"); r) {
          used_kill_ = true;
          return {};
        }
      }
    }
    // Before Linux 5.14: SIGKILL sweeps. Killed processes cannot fork, so they converge.
    for (int pass = 0; pass < 64 && !empty(); ++pass) (void)signal_all(SIGKILL, -1);
    return {};
  }

  Usage usage() const override {
    Usage u;
    if (auto text = read_here("cpu.stat")) {
      std::istringstream in(*text);
      std::string key;
      long long value;
      while (in >> key >> value) {
        if (key == "user_usec") u.user = std::chrono::microseconds(value) - base_user_;
        if (key == "system_usec") u.system = std::chrono::microseconds(value) - base_system_;
      }
    }
    // A reused cgroup has no memory controller (the pool takes none with one), and its peak
    // would span jobs anyway.
    if (from_pool_) return u;
    if (auto text = read_here("memory.peak")) {
      u.peak_memory_bytes = std::strtoull(text->c_str(), nullptr, 10);
    }
    return u;
  }

  Expected<void> release() override {
    if (released_) return {};
    if (reusable_ && give_back()) return {};
    // rmdir fails with EBUSY while populated; a zombie's exit can lag its notification briefly.
    for (int i = 0; i < 100; ++i) {
      if (::rmdir(path_.c_str()) == 0 || errno == ENOENT) {
        released_ = true;
        return {};
      }
      if (errno != EBUSY) break;
      if (!empty()) break;
      ::usleep(1000);
    }
    return Error::from_errno("rmdir cgroup", path_);
  }

  void set_relative(std::string r) { relative_ = std::move(r); }
  void make_reusable(const std::string& parent) {
    reusable_ = true;
    parent_ = parent;
  }
  static std::unique_ptr<CgroupScope> from_pool(PooledCgroup&& c) {
    auto s = std::make_unique<CgroupScope>(c.path, std::move(c.dir), std::move(c.procs),
                                           std::move(c.events), c.has_kill);
    s->set_relative(c.relative);
    s->make_reusable(c.parent);
    s->base_user_ = c.user;
    s->base_system_ = c.system;
    s->from_pool_ = true;
    return s;
  }

 private:
  // A file of the cgroup: opened below the directory fd (no walk of the whole path each time).
  std::optional<std::string> read_here(const char* name) const {
    if (!dir_) {
      auto text = sys::read_file(path_ + "/" + name);
      return text ? std::optional(std::move(*text)) : std::nullopt;
    }
    auto fd = sys::open_at(dir_.get(), name, O_RDONLY);
    if (!fd) return std::nullopt;
    auto text = sys::read_fd(fd->get());
    return text ? std::optional(std::move(*text)) : std::nullopt;
  }

  // Hands the emptied cgroup to the pool (scope_pool.hpp) if it is provably empty and limit-free.
  bool give_back() {
    auto controllers = read_here("cgroup.controllers");
    auto stat = read_here("cgroup.stat");
    auto events = sys::read_fd(events_.get());
    // Linux 6.18 was seen to SIGKILL every process later cloned into a cgroup that had a
    // cgroup.kill (CLONE_INTO_CGROUP and cgroup.kill's sequence count disagree): never reuse one.
    if (used_kill_) return false;
    if (!controllers || controllers->find_first_not_of(" \n") != std::string::npos) return false;
    if (!stat || stat->find("nr_descendants 0\n") == std::string::npos ||
        stat->find("nr_dying_descendants 0\n") == std::string::npos)
      return false;
    if (!events || events->find("populated 0") == std::string::npos) return false;
    Usage u = usage();
    PooledCgroup c{parent_,
                   path_,
                   relative_,
                   std::move(dir_),
                   std::move(procs_),
                   std::move(events_),
                   has_kill_,
                   u.user.value_or(std::chrono::microseconds(0)) + base_user_,
                   u.system.value_or(std::chrono::microseconds(0)) + base_system_};
    if (pool_put(std::move(c))) {
      released_ = true;
      return true;
    }
    // Full: the handles come back so that rmdir and later calls work as before.
    dir_ = std::move(c.dir);
    procs_ = std::move(c.procs);
    events_ = std::move(c.events);
    return false;
  }

  std::string path_;
  std::string relative_;  // the path as /proc/PID/cgroup shows it
  UniqueFd dir_, procs_, events_;
  bool has_kill_;
  bool released_ = false;
  bool used_kill_ = false;
  bool reusable_ = false;  // made by make_cgroup_scope without a name: may go to the pool
  std::string parent_;
  std::chrono::microseconds base_user_{0}, base_system_{0};  // cpu.stat when taken from the pool
  bool from_pool_ = false;
};

// Opens what a CgroupScope holds of the cgroup directory `path`, which is `relative` below the
// cgroup2 mount (as /proc/PID/cgroup names it).
Expected<std::unique_ptr<Scope>> open_cgroup_scope(const std::string& path,
                                                   const std::string& relative) {
  auto dir = sys::open_file(path, O_PATH | O_DIRECTORY);
  if (!dir) return dir.error();
  auto procs = sys::open_at(dir->get(), "cgroup.procs", O_WRONLY);
  if (!procs) return procs.error();
  auto events = sys::open_at(dir->get(), "cgroup.events", O_RDONLY);
  if (!events) return events.error();
  bool has_kill = ::faccessat(dir->get(), "cgroup.kill", F_OK, 0) == 0;
  auto scope = std::make_unique<CgroupScope>(path, std::move(*dir), std::move(*procs),
                                             std::move(*events), has_kill);
  scope->set_relative(relative.empty() ? "/" : relative);
  return std::unique_ptr<Scope>(std::move(scope));
}

}  // namespace

void remove_stale_groups(const std::string& parent,
                         const std::function<bool(const std::string&)>& is_empty) {
  constexpr time_t kStaleAfterSeconds = 600;
  DIR* dir = ::opendir(parent.c_str());
  if (!dir) return;
  time_t now = ::time(nullptr);
  while (struct dirent* e = ::readdir(dir)) {
    if (std::strncmp(e->d_name, "tend-", 5) != 0) continue;
    std::string path = parent + "/" + e->d_name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (now - st.st_mtime < kStaleAfterSeconds) continue;
    if (is_empty(path)) ::rmdir(path.c_str());
  }
  ::closedir(dir);
}

Expected<std::unique_ptr<Scope>> make_cgroup_scope(const ScopeOptions& opts,
                                                   const CgroupSupport& cg) {
  static std::once_flag swept;
  std::call_once(swept, [&] {
    remove_stale_groups(cg.self, [](const std::string& path) {
      auto events = sys::read_file(path + "/cgroup.events");
      return events && events->find("populated 0") != std::string::npos;
    });
  });
  if (opts.name.empty()) {
    if (auto pooled = pool_take(cg.self))
      return std::unique_ptr<Scope>(CgroupScope::from_pool(std::move(*pooled)));
  }
  std::string path;
  if (!opts.name.empty()) {
    path = cg.self + "/" + opts.name;
    if (::mkdir(path.c_str(), 0755) != 0) return Error::from_errno("mkdir cgroup", path);
  } else {
    // The PID alone is not unique: every `tend init` in its own PID namespace is PID 1, and a
    // supervisor killed with SIGKILL leaves its cgroup behind. A random part makes collisions
    // a non-event; EEXIST just draws again.
    for (int attempt = 0;; ++attempt) {
      path = cg.self + "/tend-" + std::to_string(::getpid()) + "-" +
             std::to_string(g_sequence.fetch_add(1)) + "-" + random_suffix();
      if (::mkdir(path.c_str(), 0755) == 0) break;
      if (errno != EEXIST || attempt == 8) return Error::from_errno("mkdir cgroup", path);
    }
  }
  auto scope = open_cgroup_scope(path, path.substr(cg.mount.size()));
  if (!scope) {
    ::rmdir(path.c_str());
    return scope;
  }
  if (opts.name.empty()) static_cast<CgroupScope&>(**scope).make_reusable(cg.self);
  return scope;
}

}  // namespace tend::detail

namespace tend {

Expected<std::unique_ptr<Scope>> Scope::attach(const std::string& cgroup_path) {
  constexpr const char* kStage = "attach cgroup";
  // The canonical path, so that it can be compared with the mount point below.
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(cgroup_path.c_str(), nullptr),
                                                   &std::free);
  if (!real) return Error::from_errno(kStage, cgroup_path);
  std::string path = real.get();
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return Error::from_errno(kStage, path);
  if (fs.f_type != CGROUP2_SUPER_MAGIC) return Error{kStage, 0, path, "not a cgroup v2 directory"};
  // Membership checks compare /proc/PID/cgroup with the path below the mount.
  const std::string mount = sys::cgroup2_mount();
  if (path == mount) return Error{kStage, 0, path, "the root cgroup holds every process"};
  if (mount.empty() || path.rfind(mount + "/", 0) != 0)
    return Error{kStage, 0, path, "not below the cgroup v2 mount point '" + mount + "'"};
  return detail::open_cgroup_scope(path, path.substr(mount.size()));
}

}  // namespace tend
