#include "server/limit_policy.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "jobspec/request_limits.hpp"
#include "tend/parse.hpp"
#include "tend/scope.hpp"

namespace tend::agent {

namespace {

Error bad(const std::string& field, std::string message) {
  return Error::with_detail("limits." + field, std::move(message));
}

std::string show(std::string_view field, double v) {
  if (field == "pids") return std::to_string(static_cast<uint64_t>(v)) + " processes";
  if (field == "cpu") {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g CPUs", v);
    return buf;
  }
  return format_size(static_cast<uint64_t>(v));
}

const char* flag_of(std::string_view field) {
  if (field == "pids") return "--job-pids";
  if (field == "cpu") return "--job-cpu";
  return "--job-memory";
}

// Sets the default for `field` into `l` when the request names none.
void fill_default(Limits& l, const Limits& d, std::string_view field) {
  if (field == "memory" && !l.memory_max) l.memory_max = d.memory_max;
  if (field == "pids" && !l.pids_max) l.pids_max = d.pids_max;
  if (field == "cpu" && !l.cpus) l.cpus = d.cpus;
}

}  // namespace

ControllerSupport LimitPolicy::controller(const std::string& name) const {
  for (const auto& c : support)
    if (c.name == name) return c;
  ControllerSupport none;
  none.name = name;
  none.why_not = "not probed";
  return none;
}

std::string LimitPolicy::describe() const {
  std::string out;
  for (const LimitField& f : kLimitFields)
    if (auto v = limit_value(jobs, f.name))
      out += (out.empty() ? "" : ", ") + std::string(f.name) + " " + show(f.name, *v);
  return out.empty() ? "none" : out;
}

Expected<void> LimitPolicy::apply(Limits& l) const {
  Limits out = l;
  for (const LimitField& f : kLimitFields) {
    auto ceiling = limit_value(jobs, f.name);
    if (auto asked = limit_value(out, f.name); asked && ceiling && *asked > *ceiling)
      return bad(f.name, show(f.name, *asked) + " is above this agent's limit of " +
                             show(f.name, *ceiling) + " (" + flag_of(f.name) + ")");
    fill_default(out, jobs, f.name);
    if (!limit_value(out, f.name)) continue;
    ControllerSupport c = controller(f.controller);
    if (c.level == LimitsLevel::none)
      return bad(f.name, std::string("cannot limit ") + f.controller + " on this host: " +
                             c.why_not + " (tend doctor shows the limits this host supports)");
  }
  // cgroup v1 bounds memory and swap together: a swap limit alone means nothing there.
  if (out.swap_max && !out.memory_max && controller("memory").level == LimitsLevel::cgroup1)
    return bad("swap",
               "needs a memory limit too on this host (cgroup v1 limits memory and "
               "swap together)");
  if (std::string why = validate(out); !why.empty()) return bad("memory_high", why);
  l = out;
  return {};
}

Expected<JobLimitOptions> parse_limit_flags(const LimitFlags& flags) {
  JobLimitOptions o;
  auto usage = [](const char* flag, const std::string& what) {
    return Error::with_detail(flag, what);
  };
  if (!flags.memory.empty()) {
    auto n = parse_size(flags.memory);
    if (!n)
      return usage("--job-memory", "expected a size like 512M or 2G, got \"" + flags.memory + "\"");
    o.jobs.memory_max = *n;
  }
  o.default_pids = flags.pids.empty();
  if (!flags.pids.empty() && flags.pids != "unlimited") {
    auto n = parse_count(flags.pids);
    if (!n)
      return usage("--job-pids",
                   "expected a number of processes (1 or more) or \"unlimited\", got \"" +
                       flags.pids + "\"");
    o.jobs.pids_max = *n;
  }
  if (!flags.cpu.empty()) {
    auto n = parse_cpus(flags.cpu);
    if (!n)
      return usage("--job-cpu",
                   "expected a number of CPUs like 0.5 or 2, got \"" + flags.cpu + "\"");
    o.jobs.cpus = *n;
  }
  for (const LimitField& f : kLimitFields) {
    Limits one;
    if (f.name == std::string_view("memory")) one.memory_max = o.jobs.memory_max;
    if (f.name == std::string_view("pids")) one.pids_max = o.jobs.pids_max;
    if (f.name == std::string_view("cpu")) one.cpus = o.jobs.cpus;
    if (std::string why = validate(one); !why.empty()) return usage(flag_of(f.name), why);
  }
  return o;
}

Expected<LimitPolicy> make_limit_policy(const JobLimitOptions& o, std::vector<std::string>& notes) {
  LimitPolicy p;
  p.jobs = o.jobs;
  // Before any shim exists: with cgroup v2, the agent moves into its leaf now, so that the
  // shims it starts are there too and their jobs' cgroups (with controllers) go beside it.
  auto prepared = prepare_limits(ScopeOptions{});
  p.support = probe_limits();
  if (!prepared) notes.push_back("no limits through cgroup v2: " + prepared.error().message());
  if (!prepared)
    for (auto& c : p.support)
      if (c.level == LimitsLevel::cgroup2) {
        c.level = LimitsLevel::none;
        c.why_not = prepared.error().message();
      }

  for (const LimitField& f : kLimitFields) {
    if (!limit_value(p.jobs, f.name)) continue;
    ControllerSupport c = p.controller(f.controller);
    if (c.level == LimitsLevel::none)
      return Error::with_detail(flag_of(f.name), std::string("cannot limit ") + f.controller +
                                                     " on this host: " + c.why_not);
  }
  if (!o.default_pids) return p;
  ControllerSupport pids = p.controller("pids");
  auto fallback = default_tasks_max();
  if (pids.level == LimitsLevel::none)
    notes.push_back("jobs get no default process limit: cannot limit pids on this host: " +
                    pids.why_not);
  else if (!fallback)
    notes.push_back(
        "jobs get no default process limit: kernel.threads-max and kernel.pid_max "
        "cannot be read");
  else
    p.jobs.pids_max = *fallback;
  return p;
}

}  // namespace tend::agent
