// A Scope with limits in force: the job's own scope (cgroup or session level) plus the
// controllers' settings, either in the job's cgroup v2 directory or in v1 groups beside it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <set>

#include "limits_impl.hpp"
#include "scope_impl.hpp"
#include "sys/files.hpp"

namespace tend::detail {

namespace {

constexpr uint64_t kCpuPeriodUs = 100'000;  // the kernel's default CFS period
std::atomic<unsigned> g_v1_sequence{0};

// One v1 group of the job, in the hierarchy of `controller`.
struct V1Group {
  std::string controller;
  std::string path;
  UniqueFd procs;  // O_WRONLY cgroup.procs: the child writes "0" here before exec
};

Expected<void> set(const std::string& dir, const char* file, const std::string& value) {
  std::string path = dir + "/" + file;
  if (auto w = sys::write_file(path, value); !w)
    return Error{"set limit", w.error().code, path, "cannot write '" + value + "'"};
  return {};
}

uint64_t cpu_quota_us(double cpus) {
  return std::max<uint64_t>(1000, static_cast<uint64_t>(std::llround(cpus * kCpuPeriodUs)));
}

Expected<void> apply_v2(const std::string& dir, const Limits& l) {
  auto num = [](uint64_t v) { return std::to_string(v); };
  // memory.high first: a max below the usage reclaims at once, a high then has nothing to do.
  if (l.memory_high)
    if (auto r = set(dir, "memory.high", num(*l.memory_high)); !r) return r;
  if (l.memory_max)
    if (auto r = set(dir, "memory.max", num(*l.memory_max)); !r) return r;
  if (l.swap_max)
    if (auto r = set(dir, "memory.swap.max", num(*l.swap_max)); !r) return r;
  if (l.pids_max)
    if (auto r = set(dir, "pids.max", num(*l.pids_max)); !r) return r;
  if (l.cpus)
    if (auto r = set(dir, "cpu.max", num(cpu_quota_us(*l.cpus)) + " " + num(kCpuPeriodUs)); !r)
      return r;
  if (l.cpu_weight)
    if (auto r = set(dir, "cpu.weight", num(*l.cpu_weight)); !r) return r;
  return {};
}

Expected<void> apply_v1(const std::string& controller, const std::string& dir, const Limits& l) {
  auto num = [](uint64_t v) { return std::to_string(v); };
  if (controller == "memory") {
    if (l.swap_max && !l.memory_max)
      return Error::with_detail("limits",
                                "a swap limit needs a memory limit on cgroup v1 (memory.memsw "
                                "bounds memory and swap together)");
    if (auto r = set(dir, "memory.oom_control", "0"); !r) return r;  // OOM killer on
    if (l.memory_max)
      if (auto r = set(dir, "memory.limit_in_bytes", num(*l.memory_max)); !r) return r;
    if (l.swap_max) {
      if (::access((dir + "/memory.memsw.limit_in_bytes").c_str(), F_OK) != 0)
        return Error::with_detail("limits",
                                  "a swap limit needs swap accounting, off on this kernel "
                                  "(no memory.memsw.limit_in_bytes; boot with swapaccount=1)");
      if (auto r = set(dir, "memory.memsw.limit_in_bytes", num(*l.memory_max + *l.swap_max)); !r)
        return r;
    }
    // v1 has no memory.high; the soft limit is what reclaim aims at under pressure (weaker).
    if (l.memory_high)
      if (auto r = set(dir, "memory.soft_limit_in_bytes", num(*l.memory_high)); !r) return r;
  } else if (controller == "pids") {
    if (auto r = set(dir, "pids.max", num(*l.pids_max)); !r) return r;
  } else if (controller == "cpu") {
    if (l.cpus) {
      if (auto r = set(dir, "cpu.cfs_period_us", num(kCpuPeriodUs)); !r) return r;
      if (auto r = set(dir, "cpu.cfs_quota_us", num(cpu_quota_us(*l.cpus))); !r) return r;
    }
    // systemd's mapping of CPUWeight= onto cpu.shares: 100 <-> 1024.
    if (l.cpu_weight)
      if (auto r =
              set(dir, "cpu.shares", num(std::max<uint64_t>(2, *l.cpu_weight * 1024ULL / 100)));
          !r)
        return r;
  }
  return {};
}

class LimitedScope final : public Scope {
 public:
  LimitedScope(std::unique_ptr<Scope> inner, Limits limits, LimitsLevel level)
      : inner_(std::move(inner)), limits_(std::move(limits)), level_(level) {}
  ~LimitedScope() override { (void)release(); }

  ScopeLevel level() const override { return inner_->level(); }
  const std::string& cgroup_path() const override { return inner_->cgroup_path(); }
  int cgroup_fd() const override { return inner_->cgroup_fd(); }
  int procs_fd() const override { return inner_->procs_fd(); }
  void adopt_main(pid_t pid) override { inner_->adopt_main(pid); }
  std::vector<pid_t> pids() const override { return inner_->pids(); }
  bool empty() const override { return inner_->empty(); }
  int events_fd() const override { return inner_->events_fd(); }
  Expected<int> signal_all(int sig, pid_t except) override {
    return inner_->signal_all(sig, except);
  }
  Expected<void> kill_all() override { return inner_->kill_all(); }
  Usage usage() const override { return inner_->usage(); }

  LimitsLevel limits_level() const override { return level_; }
  const Limits& limits() const override { return limits_; }
  std::span<const int> join_fds() const override { return join_; }

  LimitUsage limit_usage() const override {
    LimitUsage u;
    if (level_ == LimitsLevel::cgroup2) {
      const std::string& d = inner_->cgroup_path();
      fill(u, d, d, d);
      return u;
    }
    std::string mem, pids, cpu;
    for (const auto& g : groups_)
      (g.controller == "memory" ? mem : g.controller == "pids" ? pids : cpu) = g.path;
    fill(u, mem, pids, cpu);
    return u;
  }

  Expected<void> release() override {
    // The v1 groups first: the v2 cgroup may go back to the pool (scope_pool.hpp), and a job
    // taking it must find its name free in the v1 hierarchies. The job's processes were in the
    // v2 scope too, so the groups are as empty as it is; an exiting process can lag a moment.
    Expected<void> r;
    while (!groups_.empty()) {
      const V1Group& g = groups_.back();
      int err = 0;
      for (int tries = 0;; ++tries) {
        if (::rmdir(g.path.c_str()) == 0 || errno == ENOENT) break;
        err = errno;
        if (err != EBUSY || tries == 100) break;
        err = 0;
        ::usleep(1000);
      }
      if (err != 0) {
        r = Error{"rmdir cgroup", err, g.path, {}};
        break;  // processes left (OrphanPolicy::leave): keep the groups, limits still apply
      }
      groups_.pop_back();
      join_.pop_back();
    }
    auto inner = inner_->release();
    return r ? inner : r;
  }

  Expected<void> add_v1_group(const std::string& controller, const std::string& parent,
                              const std::string& name) {
    std::string path = parent + "/" + name;
    if (::mkdir(path.c_str(), 0755) != 0) return Error::from_errno("mkdir cgroup", path);
    groups_.push_back({controller, path, {}});
    if (auto r = apply_v1(controller, path, limits_); !r) return r;
    auto procs = sys::open_file(path + "/cgroup.procs", O_WRONLY);
    if (!procs) return procs.error();
    join_.push_back(procs->get());
    groups_.back().procs = std::move(*procs);
    return {};
  }

 private:
  // v2 and v1 name the same figures differently; a missing file leaves its figure unset.
  void fill(LimitUsage& u, const std::string& mem, const std::string& pids,
            const std::string& cpu) const {
    const bool v2 = level_ == LimitsLevel::cgroup2;
    if (!mem.empty()) {
      u.oom_kills =
          read_key(mem + (v2 ? "/memory.events" : "/memory.oom_control"), "oom_kill").value_or(0);
      u.peak_memory_bytes = read_u64(mem + (v2 ? "/memory.peak" : "/memory.max_usage_in_bytes"));
    }
    if (!pids.empty()) {
      u.peak_processes = read_u64(pids + "/pids.peak");
      u.pids_refused = read_key(pids + "/pids.events", "max");
    }
    if (!cpu.empty()) {
      if (v2) {
        if (auto us = read_key(cpu + "/cpu.stat", "throttled_usec"))
          u.cpu_throttled = std::chrono::microseconds(*us);
      } else if (auto ns = read_key(cpu + "/cpu.stat", "throttled_time")) {
        u.cpu_throttled = std::chrono::microseconds(*ns / 1000);
      }
    }
  }

  std::unique_ptr<Scope> inner_;
  Limits limits_;
  LimitsLevel level_;
  std::vector<V1Group> groups_;
  std::vector<int> join_;
};

// Once per process and hierarchy: v1 groups left by a supervisor that died.
void remove_stale_v1_groups(const std::string& parent) {
  static std::mutex mutex;
  static std::set<std::string> swept;
  {
    std::lock_guard lock(mutex);
    if (!swept.insert(parent).second) return;
  }
  remove_stale_groups(parent, [](const std::string& path) {
    auto procs = sys::read_file(path + "/cgroup.procs");
    return procs && procs->empty();
  });
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Expected<std::unique_ptr<Scope>> make_limited_scope(const ScopeOptions& opts) {
  if (std::string bad = validate(opts.limits); !bad.empty())
    return Error::with_detail("limits", bad);
  auto level = choose_limits_level(opts);
  if (!level) return level.error();
  const auto controllers = needed_controllers(opts.limits);

  ScopeOptions inner_opts = opts;
  inner_opts.limits = {};
  if (*level == LimitsLevel::cgroup2) {
    // v2 limits live in the job's own cgroup: a caller that asked for the session level must
    // not silently get the cgroup level instead.
    const char* env = std::getenv("TEND_SCOPE");
    if (opts.level == ScopeLevel::session || (!opts.level && env && std::string(env) == "session"))
      return Error::with_detail("limits",
                                "cgroup v2 limits need the cgroup scope level, not session");
    CgroupSupport cg = probe_cgroup(opts.cgroup_parent);
    if (auto d = delegate_v2(cg.self, opts.cgroup_parent.empty(), controllers); !d)
      return d.error();
    inner_opts.level = ScopeLevel::cgroup;
    inner_opts.cgroup_parent = cg.self;
  }
  auto inner = Scope::create(inner_opts);
  if (!inner) return inner.error();
  std::string v2_dir = (*inner)->cgroup_path();
  auto scope = std::make_unique<LimitedScope>(std::move(*inner), opts.limits, *level);

  if (*level == LimitsLevel::cgroup2) {
    if (auto r = apply_v2(v2_dir, opts.limits); !r) return r.error();
    return std::unique_ptr<Scope>(std::move(scope));
  }
  // The v1 groups carry the v2 scope's name, so the two are easy to match up by eye.
  std::string name =
      !v2_dir.empty()
          ? basename_of(v2_dir)
          : "tend-" + std::to_string(::getpid()) + "-s" +
                std::to_string(g_v1_sequence.fetch_add(1)) + "-" +
                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  for (const auto& c : controllers) {
    V1Hierarchy h = find_v1_hierarchy(c, v1_root_override(opts.cgroup_v1_root));
    if (h.dir.empty()) return Error::with_detail("limits", "cannot limit " + c + ": " + h.why_not);
    remove_stale_v1_groups(h.dir);
    if (auto r = scope->add_v1_group(c, h.dir, name); !r) return r.error();
  }
  return std::unique_ptr<Scope>(std::move(scope));
}

}  // namespace tend::detail
