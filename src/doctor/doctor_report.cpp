#include "doctor_report.hpp"

#include <nlohmann/json.hpp>

namespace tend::doctor_face {
namespace {

const char* yes_no(bool b) {
  return b ? "yes" : "no";
}

void line(std::string& out, const char* label, const std::string& value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %-22s ", label);
  out += buf;
  out += value;
  out += '\n';
}

}  // namespace

std::string cgroup_hint(const Platform& p) {
  if (p.scope_level == ScopeLevel::cgroup) return {};
  if (p.cgroup.mount.empty())
    return "mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup), or run on a host that has it";
  return "run as root, or delegate a cgroup to this user "
         "(systemd-run --user -p Delegate=yes --shell), or set ScopeOptions::cgroup_parent to a "
         "writable cgroup";
}

std::string render_text(const Platform& p) {
  std::string out;
  out += "kernel\n";
  line(out, "release", p.kernel);
  out += "process handles\n";
  line(out, "clone3", yes_no(p.clone3));
  line(out, "CLONE_INTO_CGROUP", yes_no(p.clone_into_cgroup));
  line(out, "pidfd_open", yes_no(p.pidfd));
  line(out, "pidfd_send_signal", yes_no(p.pidfd_send_signal));
  line(out, "waitid(P_PIDFD)", yes_no(p.waitid_pidfd));
  line(out, "close_range", yes_no(p.close_range));
  line(out, "child subreaper", yes_no(p.subreaper));
  line(out, "spawn level", to_string(p.spawn_level));
  out += "cgroup v2\n";
  line(out, "mount", p.cgroup.mount.empty() ? "none found" : p.cgroup.mount);
  line(out, "our cgroup", p.cgroup.self.empty() ? "unknown" : p.cgroup.self);
  std::string writable = yes_no(p.cgroup.writable);
  if (!p.cgroup.writable && !p.cgroup.why_not.empty()) writable += " (" + p.cgroup.why_not + ")";
  line(out, "writable", writable);
  line(out, "cgroup.kill", yes_no(p.cgroup.has_kill));
  const auto missing = missing_features(p);
  if (!missing.empty()) {
    out += std::string("missing (tend needs Linux ") + kMinimumKernel +
           "; newer features have fallbacks)\n";
    for (const auto& m : missing)
      line(out, m.name, std::string("Linux ") + m.since + "; instead: " + m.instead);
  }
  out += "limits (memory, processes, CPU per job)\n";
  for (const auto& c : p.limits) {
    if (c.level == LimitsLevel::none)
      line(out, c.name.c_str(), "no (" + c.why_not + ")");
    else
      line(out, c.name.c_str(), std::string("yes, ") + to_string(c.level) + " (" + c.where + ")");
  }
  out += '\n';
  if (p.scope_level == ScopeLevel::cgroup) {
    out += "containment level: cgroup (strong: no process of a job can leave its cgroup)\n";
  } else {
    out +=
        "containment level: session (weaker: a process that double-forks and calls setsid "
        "between two sweeps of /proc can escape)\n";
    out += "hint: " + cgroup_hint(p) + "\n";
  }
  return out;
}

nlohmann::json render_json(const Platform& p) {
  nlohmann::json cg = {{"mount", p.cgroup.mount},
                       {"self", p.cgroup.self},
                       {"writable", p.cgroup.writable},
                       {"why_not", p.cgroup.why_not.empty() ? nlohmann::json(nullptr)
                                                            : nlohmann::json(p.cgroup.why_not)},
                       {"cgroup_kill", p.cgroup.has_kill}};
  std::string hint = cgroup_hint(p);
  nlohmann::json missing = nlohmann::json::array();
  for (const auto& m : missing_features(p))
    missing.push_back({{"feature", m.name}, {"since", m.since}, {"instead", m.instead}});
  nlohmann::json limits = nlohmann::json::array();
  for (const auto& c : p.limits)
    limits.push_back(
        {{"controller", c.name},
         {"level", to_string(c.level)},
         {"where", c.where.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.where)},
         {"why_not", c.why_not.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.why_not)}});
  return {{"kernel", p.kernel},
          {"minimum_kernel", kMinimumKernel},
          {"missing", missing},
          {"waitid_pidfd", p.waitid_pidfd},
          {"clone3", p.clone3},
          {"clone_into_cgroup", p.clone_into_cgroup},
          {"pidfd_open", p.pidfd},
          {"pidfd_send_signal", p.pidfd_send_signal},
          {"close_range", p.close_range},
          {"subreaper", p.subreaper},
          {"spawn_level", to_string(p.spawn_level)},
          {"cgroup", cg},
          {"scope_level", to_string(p.scope_level)},
          {"limits", limits},
          {"hint", hint.empty() ? nlohmann::json(nullptr) : nlohmann::json(hint)}};
}

}  // namespace tend::doctor_face
