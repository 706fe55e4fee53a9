// Figures about limits read from outside a job's supervisor: the default process limit for a
// supervisor of many jobs, and a running job's memory, processes and CPU from its cgroups.
#include <algorithm>
#include <sstream>

#include "limits_impl.hpp"
#include "sys/files.hpp"

namespace tend {

std::optional<uint64_t> default_tasks_max() {
  auto threads = detail::read_u64("/proc/sys/kernel/threads-max");
  auto pids = detail::read_u64("/proc/sys/kernel/pid_max");
  if (!threads && !pids) return std::nullopt;
  uint64_t system = std::min(threads.value_or(UINT64_MAX), pids.value_or(UINT64_MAX));
  // systemd rounds the same way (DefaultTasksMax=15%); never below a usable handful.
  return std::max<uint64_t>(16, system * 15 / 100);
}

namespace {

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The job's group in the v1 hierarchy of `controller`, if there is one by that name.
std::string v1_group(const std::string& controller, const std::string& name,
                     const LimitsProbeOptions& opts) {
  detail::V1Hierarchy h =
      detail::find_v1_hierarchy(controller, detail::v1_root_override(opts.cgroup_v1_root));
  if (h.dir.empty()) return {};
  return h.dir + "/" + name;
}

std::optional<uint64_t> count_lines(const std::string& path) {
  auto text = sys::read_file(path);
  if (!text) return std::nullopt;
  return static_cast<uint64_t>(std::count(text->begin(), text->end(), '\n'));
}

}  // namespace

ScopeFigures read_scope_figures(const std::string& cgroup_path, const LimitsProbeOptions& opts) {
  ScopeFigures f;
  if (cgroup_path.empty()) return f;
  // cpu.stat's usage is core cgroup v2: there with or without the cpu controller.
  if (auto us = detail::read_key(cgroup_path + "/cpu.stat", "user_usec"))
    f.cpu_user = std::chrono::microseconds(*us);
  if (auto us = detail::read_key(cgroup_path + "/cpu.stat", "system_usec"))
    f.cpu_system = std::chrono::microseconds(*us);
  f.memory_bytes = detail::read_u64(cgroup_path + "/memory.current");
  f.processes = detail::read_u64(cgroup_path + "/pids.current");
  if (!f.processes) f.processes = count_lines(cgroup_path + "/cgroup.procs");
  if (!f.processes) return f;  // the v2 cgroup is gone: so are the job's v1 groups
  if (!f.memory_bytes) {
    std::string name = basename_of(cgroup_path);
    if (std::string g = v1_group("memory", name, opts); !g.empty())
      f.memory_bytes = detail::read_u64(g + "/memory.usage_in_bytes");
  }
  return f;
}

}  // namespace tend
