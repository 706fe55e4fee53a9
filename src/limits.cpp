// Where limits can be had: v2 controllers of the jobs' parent cgroup, or v1 hierarchies; and the
// one change the v2 mechanism needs, the supervisor's move into a leaf of its own cgroup.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

#include "limits_impl.hpp"
#include "supervisor_guard.hpp"
#include "sys/files.hpp"
#include "sys/procfs.hpp"

namespace tend {

const char* to_string(LimitsLevel l) {
  switch (l) {
    case LimitsLevel::none:
      return "none";
    case LimitsLevel::cgroup2:
      return "cgroup2";
    case LimitsLevel::cgroup1:
      return "cgroup1";
  }
  return "?";
}

std::string validate(const Limits& l) {
  // Below a few pages the kernel can do nothing useful; a typo ("64" for 64M) must not pass.
  constexpr uint64_t kMinMemory = 1 << 20;
  if (l.memory_max && *l.memory_max < kMinMemory) return "memory limit below 1 MiB";
  if (l.memory_high && *l.memory_high < kMinMemory) return "memory high below 1 MiB";
  if (l.memory_max && l.memory_high && *l.memory_high > *l.memory_max)
    return "memory high above the memory limit";
  if (l.pids_max && *l.pids_max < 1) return "process limit below 1";
  if (l.pids_max && *l.pids_max > INT_MAX) return "process limit too large";
  if (l.cpus && !(std::isfinite(*l.cpus) && *l.cpus >= 0.01 && *l.cpus <= 4096))
    return "CPU quota out of range (0.01 to 4096 CPUs)";
  if (l.cpu_weight && (*l.cpu_weight < 1 || *l.cpu_weight > 10000))
    return "CPU weight out of range (1 to 10000)";
  return {};
}

std::vector<ControllerSupport> probe_limits(const LimitsProbeOptions& opts) {
  return detail::probe_controllers({"memory", "pids", "cpu"}, opts);
}

Expected<void> prepare_limits(const ScopeOptions& opts) {
  ScopeOptions o = opts;
  if (!o.limits.any()) {
    // Every controller cgroup v2 offers here; the others need no preparation.
    for (const auto& c : probe_limits({o.cgroup_parent, o.cgroup_v1_root, o.limits_level})) {
      if (c.level != LimitsLevel::cgroup2) continue;
      if (c.name == "memory") o.limits.memory_max = UINT64_MAX;
      if (c.name == "pids") o.limits.pids_max = 1;
      if (c.name == "cpu") o.limits.cpu_weight = 100;
    }
    if (!o.limits.any()) return {};
  }
  auto level = detail::choose_limits_level(o);
  if (!level) return level.error();
  if (*level != LimitsLevel::cgroup2) return {};
  CgroupSupport cg = probe_cgroup(o.cgroup_parent);
  return detail::delegate_v2(cg.self, o.cgroup_parent.empty(),
                             detail::needed_controllers(o.limits));
}

}  // namespace tend

namespace tend::detail {

namespace {

std::mutex g_delegation_mutex;

bool has_word(const std::string& list, const std::string& word) {
  std::istringstream in(list);
  for (std::string w; in >> w;)
    if (w == word) return true;
  return false;
}

std::optional<LimitsLevel> forced_level(const std::optional<LimitsLevel>& opt) {
  if (opt) return opt;
  const char* env = std::getenv("TEND_LIMITS");
  if (!env) return std::nullopt;
  if (std::strcmp(env, "cgroup2") == 0) return LimitsLevel::cgroup2;
  if (std::strcmp(env, "cgroup1") == 0) return LimitsLevel::cgroup1;
  return std::nullopt;
}

// Why `controller` cannot be limited through cgroup v2 under `cg`; empty if it can.
std::string v2_why_not(const CgroupSupport& cg, const std::string& controller) {
  if (!cg.writable) return "cgroup v2: " + cg.why_not;
  auto list = sys::read_file(cg.self + "/cgroup.controllers");
  if (!list) return "cgroup v2: " + list.error().message();
  if (!has_word(*list, controller)) {
    std::string have = *list;
    while (!have.empty() && have.back() == '\n') have.pop_back();
    return "cgroup v2: not in " + cg.self + "/cgroup.controllers (" +
           (have.empty() ? "empty" : have) +
           "): not enabled by the parent cgroup or bound to a v1 hierarchy (systemd: "
           "Delegate=yes)";
  }
  return {};
}

}  // namespace

std::string v1_root_override(const std::string& opt) {
  if (!opt.empty()) return opt;
  const char* env = std::getenv("TEND_CGROUP_V1_ROOT");
  return env ? env : "";
}

std::optional<uint64_t> read_u64(const std::string& path) {
  auto text = sys::read_file(path);
  if (!text || text->empty() || (*text)[0] < '0' || (*text)[0] > '9') return std::nullopt;
  return std::strtoull(text->c_str(), nullptr, 10);
}

std::optional<uint64_t> read_key(const std::string& path, std::string_view key) {
  auto text = sys::read_file(path);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string k;
  unsigned long long v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return std::nullopt;
}

std::vector<std::string> needed_controllers(const Limits& l) {
  std::vector<std::string> out;
  if (l.needs_memory()) out.push_back("memory");
  if (l.needs_pids()) out.push_back("pids");
  if (l.needs_cpu()) out.push_back("cpu");
  return out;
}

V1Hierarchy find_v1_hierarchy(const std::string& controller, const std::string& root_override) {
  V1Hierarchy h;
  std::string mountpoint, mount_root = "/";
  std::string wanted;  // with an override: the canonical path the mount must have
  if (!root_override.empty()) {
    std::string p = root_override + "/" + controller;
    std::unique_ptr<char, decltype(&std::free)> real(::realpath(p.c_str(), nullptr), &std::free);
    if (!real) {
      h.why_not = "cgroup v1: no " + p + " (" + std::strerror(errno) + ")";
      return h;
    }
    wanted = real.get();
  }
  for (const auto& m : sys::cgroup_mounts()) {
    if (m.v2) continue;
    bool has = false;
    for (const auto& o : m.options) has |= o == controller;
    if (!has || (!wanted.empty() && m.mountpoint != wanted)) continue;
    mountpoint = m.mountpoint;
    mount_root = m.root;
    break;
  }
  if (mountpoint.empty()) {
    h.why_not = wanted.empty()
                    ? "cgroup v1: no hierarchy with the " + controller + " controller is mounted"
                    : "cgroup v1: " + root_override + "/" + controller + " is not a " + controller +
                          " hierarchy";
    return h;
  }
  h.dir = mountpoint;
  if (auto own = sys::own_cgroup_v1(controller); own && own->rfind(mount_root, 0) == 0) {
    std::string rel = own->substr(mount_root == "/" ? 0 : mount_root.size());
    std::string dir = mountpoint + (rel == "/" ? "" : rel);
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) h.dir = dir;
  }
  if (::access(h.dir.c_str(), W_OK) != 0) {
    h.why_not = "cgroup v1: " + h.dir + ": " + std::strerror(errno) + " (run as root)";
    h.dir.clear();
  }
  return h;
}

std::vector<ControllerSupport> probe_controllers(const std::vector<std::string>& controllers,
                                                 const LimitsProbeOptions& opts) {
  std::optional<LimitsLevel> forced = forced_level(opts.level);
  CgroupSupport cg = probe_cgroup(opts.cgroup_parent);
  std::string root = v1_root_override(opts.cgroup_v1_root);
  std::vector<ControllerSupport> out;
  for (const auto& c : controllers) {
    ControllerSupport s;
    s.name = c;
    std::string v2 =
        forced == LimitsLevel::cgroup1 ? "cgroup v2: not chosen (TEND_LIMITS)" : v2_why_not(cg, c);
    if (v2.empty()) {
      s.level = LimitsLevel::cgroup2;
      s.where = cg.self;
      out.push_back(s);
      continue;
    }
    V1Hierarchy h;
    if (forced == LimitsLevel::cgroup2)
      h.why_not = "cgroup v1: not chosen (TEND_LIMITS)";
    else
      h = find_v1_hierarchy(c, root);
    if (!h.dir.empty()) {
      s.level = LimitsLevel::cgroup1;
      s.where = h.dir;
    } else {
      s.why_not = v2 + "; " + h.why_not;
    }
    out.push_back(s);
  }
  return out;
}

Expected<LimitsLevel> choose_limits_level(const ScopeOptions& opts) {
  auto support = probe_controllers(needed_controllers(opts.limits),
                                   {opts.cgroup_parent, opts.cgroup_v1_root, opts.limits_level});
  std::string missing;
  for (const auto& s : support)
    if (s.level == LimitsLevel::none)
      missing += (missing.empty() ? "" : "; ") + s.name + ": " + s.why_not;
  if (!missing.empty()) return Error::with_detail("limits", "cannot limit " + missing);
  LimitsLevel level = support.front().level;
  for (const auto& s : support)
    if (s.level != level)
      return Error::with_detail("limits", "cannot limit " + support.front().name + " through " +
                                              to_string(level) + " and " + s.name + " through " +
                                              to_string(s.level) + " in one job");
  return level;
}

Expected<void> delegate_v2(const std::string& parent, bool parent_is_own,
                           const std::vector<std::string>& controllers) {
  std::lock_guard lock(g_delegation_mutex);
  const std::string control = parent + "/cgroup.subtree_control";
  auto enabled = sys::read_file(control);
  if (!enabled) return Error{"enable controller", enabled.error().code, control, {}};
  std::vector<std::string> missing;
  for (const auto& c : controllers)
    if (!has_word(*enabled, c)) missing.push_back(c);
  if (missing.empty()) return {};
  // "No internal processes": a non-root cgroup that holds processes cannot give domain
  // controllers (memory) to its children, and one that gives them threaded controllers (pids,
  // cpu) becomes a thread root whose children cannot take processes. So the parent must be empty
  // first, whatever the controller: this process moves into a leaf, anyone else is refused.
  if (parent != sys::cgroup2_mount()) {
    auto procs = sys::read_file(parent + "/cgroup.procs");
    if (!procs) return Error{"read cgroup.procs", procs.error().code, parent, {}};
    // This process's job guard (supervisor_guard.hpp) is part of the supervisor: it moves too.
    const pid_t guard = guard_process_pid();
    bool self_in = false, guard_in = false, others = false;
    std::istringstream in(*procs);
    for (pid_t pid; in >> pid;)
      (pid == ::getpid() ? self_in : pid == guard ? guard_in : others) = true;
    if (others || ((self_in || guard_in) && !parent_is_own))
      return Error{"enable controller", EBUSY, control,
                   "cannot enable " + missing.front() + ": " + parent +
                       " holds processes other than this one, and cgroup v2 gives controllers "
                       "only to cgroups without processes; run tend in a cgroup of its own "
                       "(systemd: a unit with Delegate=yes)"};
    if (self_in || guard_in) {
      std::string leaf = parent + "/" + kSupervisorLeaf;
      if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST)
        return Error::from_errno("mkdir cgroup", leaf);
      if (self_in)
        if (auto m = sys::write_file(leaf + "/cgroup.procs", std::to_string(::getpid())); !m)
          return Error{"move into supervisor leaf", m.error().code, leaf, {}};
      if (guard_in)
        if (auto m = sys::write_file(leaf + "/cgroup.procs", std::to_string(guard)); !m)
          return Error{"move the job guard into the supervisor leaf", m.error().code, leaf, {}};
    }
  }
  for (const auto& c : missing) {
    if (auto w = sys::write_file(control, "+" + c); !w)
      return Error{"enable controller", w.error().code, control,
                   "cannot enable " + c + " for the jobs' cgroups"};
  }
  return {};
}

}  // namespace tend::detail
