#include "tend/result.hpp"

#include <signal.h>

#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "tend/parse.hpp"
#include "tend/time.hpp"

namespace tend {
namespace {

using json = nlohmann::json;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::system_clock;

json status_json(const ExitStatus& st) {
  return {{"kind", st.exited() ? "exited" : "signaled"},
          {"value", st.value},
          {"signal_name", st.signaled() ? json(signal_name(st.value)) : json(nullptr)},
          {"core_dumped", st.core_dumped}};
}

json error_json(const Error& e) {
  return {{"kind", to_string(e.kind)}, {"stage", e.stage},      {"errno", e.code}, {"path", e.path},
          {"detail", e.detail},        {"message", e.message()}};
}

template <class T>
json optional_json(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json optional_us(const std::optional<microseconds>& v) {
  return v ? json(v->count()) : json(nullptr);
}

// Records written before errors had a kind carry none: an exec failure was the only one whose
// stage was "execve", the rest get the kind their errno suggests.
ErrorKind kind_from_json(const json& e) {
  if (auto it = e.find("kind"); it != e.end() && it->is_string()) {
    const std::string name = it->get<std::string>();
    for (ErrorKind k :
         {ErrorKind::system, ErrorKind::usage, ErrorKind::not_found, ErrorKind::permission,
          ErrorKind::exec, ErrorKind::io, ErrorKind::unsupported, ErrorKind::bad_data})
      if (name == to_string(k)) return k;
    return ErrorKind::system;
  }
  if (e.value("stage", std::string()) == "execve") return ErrorKind::exec;
  return kind_of_errno(e.value("errno", 0));
}

// Thrown only inside result_from_json and turned into an Error there.
struct BadField {
  std::string what;
};

const json& field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw BadField{std::string("missing field '") + key + "'"};
  return *it;
}

template <class E>
E enum_from(const json& j, const char* key, std::initializer_list<E> all) {
  std::string s = field(j, key).get<std::string>();
  for (E e : all)
    if (s == to_string(e)) return e;
  throw BadField{std::string("unknown ") + key + " '" + s + "'"};
}

}  // namespace

const char* to_string(EndReason r) {
  switch (r) {
    case EndReason::exited:
      return "exited";
    case EndReason::timed_out:
      return "timed_out";
    case EndReason::cancelled:
      return "cancelled";
    case EndReason::spawn_failed:
      return "spawn_failed";
  }
  return "unknown";
}

int Result::exit_code(bool preserve_status) const {
  switch (reason) {
    case EndReason::spawn_failed: {
      // Only a failed exec is the command's fault (126/127); any other failure is tend's (125).
      if (!error || error->kind != ErrorKind::exec) return 125;
      return error->command_not_found() ? 127 : 126;
    }
    case EndReason::exited:
      return status ? status->shell_code() : 125;
    case EndReason::timed_out:
      if (preserve_status && status) return status->shell_code();
      return killed ? 128 + SIGKILL : 124;
    case EndReason::cancelled:
      if (preserve_status && status) return status->shell_code();
      if (killed) return 128 + SIGKILL;
      if (stop_signal > 0) return 128 + stop_signal;
      return status ? status->shell_code() : 125;
  }
  return 125;
}

bool Result::main_oom_killed() const {
  return oom_killed && status && status->signaled() && status->value == SIGKILL && !killed &&
         reason == EndReason::exited;
}

std::string Result::describe() const {
  if (!status) return {};
  if (!main_oom_killed()) return status->describe();
  if (memory_limit_bytes) return "out of memory (limit " + format_size(*memory_limit_bytes) + ")";
  return "out of memory";
}

nlohmann::json to_json(const Result& r) {
  json j;
  j["reason"] = to_string(r.reason);
  j["exit_code"] = r.exit_code();
  j["status"] = r.status ? status_json(*r.status) : json(nullptr);
  j["error"] = r.error ? error_json(*r.error) : json(nullptr);
  j["stop_signal"] = r.stop_signal;
  j["stop_signal_name"] = r.stop_signal > 0 ? json(signal_name(r.stop_signal)) : json(nullptr);
  j["killed"] = r.killed;
  j["started_at"] = format_rfc3339(r.started_at);
  j["finished_at"] = format_rfc3339(r.finished_at);
  j["elapsed_us"] = r.elapsed.count();
  j["elapsed_ms"] = r.elapsed.count() / 1000.0;
  j["cpu_user_us"] = optional_us(r.cpu_user);
  j["cpu_system_us"] = optional_us(r.cpu_system);
  j["peak_memory_bytes"] = optional_json(r.peak_memory_bytes);
  j["description"] = r.status ? json(r.describe()) : json(nullptr);
  j["limits_level"] = to_string(r.limits_level);
  j["memory_limit_bytes"] = optional_json(r.memory_limit_bytes);
  j["oom_killed"] = r.oom_killed;
  j["oom_kills"] = r.oom_kills;
  j["peak_processes"] = optional_json(r.peak_processes);
  j["pids_refused"] = optional_json(r.pids_refused);
  j["cpu_throttled_us"] = optional_us(r.cpu_throttled);
  j["stdout_bytes"] = r.stdout_bytes;
  j["stderr_bytes"] = r.stderr_bytes;
  j["output_dropped_bytes"] = r.output_dropped_bytes;
  j["leftovers_killed"] = r.leftovers_killed;
  j["leftovers_left"] = r.leftovers_left;
  j["pid"] = r.pid;
  j["scope_level"] = to_string(r.scope_level);
  j["spawn_level"] = to_string(r.spawn_level);
  return j;
}

Expected<Result> result_from_json(const nlohmann::json& j) {
  try {
    if (!j.is_object()) throw BadField{"not a JSON object"};
    Result r;
    r.reason = enum_from<EndReason>(
        j, "reason",
        {EndReason::exited, EndReason::timed_out, EndReason::cancelled, EndReason::spawn_failed});
    if (const json& st = field(j, "status"); !st.is_null()) {
      ExitStatus s;
      std::string kind = field(st, "kind").get<std::string>();
      if (kind == "exited")
        s.kind = ExitStatus::Kind::exited;
      else if (kind == "signaled")
        s.kind = ExitStatus::Kind::signaled;
      else
        throw BadField{"unknown status kind '" + kind + "'"};
      s.value = field(st, "value").get<int>();
      s.core_dumped = st.value("core_dumped", false);
      r.status = s;
    }
    if (const json& e = field(j, "error"); !e.is_null()) {
      Error err;
      err.stage = field(e, "stage").get<std::string>();
      err.code = field(e, "errno").get<int>();
      err.path = e.value("path", std::string());
      err.detail = e.value("detail", std::string());
      err.kind = kind_from_json(e);
      r.error = err;
    }
    r.stop_signal = j.value("stop_signal", 0);
    r.killed = j.value("killed", false);
    for (auto [key, out] :
         {std::pair{"started_at", &r.started_at}, std::pair{"finished_at", &r.finished_at}}) {
      auto t = parse_rfc3339(field(j, key).get<std::string>());
      if (!t) throw BadField{std::string("'") + key + "' is not an RFC 3339 time"};
      *out = *t;
    }
    r.elapsed = microseconds(field(j, "elapsed_us").get<int64_t>());
    if (const json& v = j.value("cpu_user_us", json(nullptr)); !v.is_null())
      r.cpu_user = microseconds(v.get<int64_t>());
    if (const json& v = j.value("cpu_system_us", json(nullptr)); !v.is_null())
      r.cpu_system = microseconds(v.get<int64_t>());
    if (const json& v = j.value("peak_memory_bytes", json(nullptr)); !v.is_null())
      r.peak_memory_bytes = v.get<uint64_t>();
    // Results written before limits existed have none of these fields.
    if (j.contains("limits_level"))
      r.limits_level = enum_from<LimitsLevel>(
          j, "limits_level", {LimitsLevel::none, LimitsLevel::cgroup2, LimitsLevel::cgroup1});
    for (auto [key, out] : {std::pair{"memory_limit_bytes", &r.memory_limit_bytes},
                            std::pair{"peak_processes", &r.peak_processes},
                            std::pair{"pids_refused", &r.pids_refused}})
      if (const json& v = j.value(key, json(nullptr)); !v.is_null()) *out = v.get<uint64_t>();
    r.oom_killed = j.value("oom_killed", false);
    r.oom_kills = j.value("oom_kills", uint64_t{0});
    if (const json& v = j.value("cpu_throttled_us", json(nullptr)); !v.is_null())
      r.cpu_throttled = microseconds(v.get<int64_t>());
    r.stdout_bytes = j.value("stdout_bytes", uint64_t{0});
    r.stderr_bytes = j.value("stderr_bytes", uint64_t{0});
    r.output_dropped_bytes = j.value("output_dropped_bytes", uint64_t{0});
    r.leftovers_killed = j.value("leftovers_killed", 0);
    r.leftovers_left = j.value("leftovers_left", 0);
    r.pid = j.value("pid", -1);
    r.scope_level =
        enum_from<ScopeLevel>(j, "scope_level", {ScopeLevel::cgroup, ScopeLevel::session});
    r.spawn_level =
        enum_from<SpawnLevel>(j, "spawn_level", {SpawnLevel::clone3, SpawnLevel::clone_pidfd});
    return r;
  } catch (const BadField& e) {
    return Error::with_detail("result json", e.what);
  } catch (const json::exception& e) {
    return Error::with_detail("result json", e.what());
  }
}

}  // namespace tend
