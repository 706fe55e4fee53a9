#include "jobspec/job_request.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "jobspec/request_limits.hpp"
#include "tend/parse.hpp"

namespace tend {

using json = nlohmann::json;

namespace {

// Bounds that keep one request from costing the agent more than a request should.
constexpr size_t kMaxArgs = 4096;
constexpr size_t kMaxEnv = 4096;
constexpr size_t kMaxLabels = 64;
constexpr size_t kMaxLabelKey = 128;
constexpr size_t kMaxLabelValue = 1024;
constexpr std::chrono::milliseconds kMaxDuration{365LL * 24 * 3600 * 1000};

Error bad(std::string field, std::string message) {
  return Error::with_detail(std::move(field), std::move(message));
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

Expected<std::chrono::milliseconds> parse_duration_field(const json& v, const char* field) {
  if (v.is_number()) {
    double seconds = v.get<double>();
    if (!std::isfinite(seconds) || seconds < 0)
      return bad(field, "must be a non-negative number of seconds or a duration like \"30s\"");
    if (seconds > static_cast<double>(kMaxDuration.count()) / 1000)
      return bad(field, "is longer than a year");
    return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
  }
  if (v.is_string()) {
    auto d = parse_duration(v.get<std::string>());
    if (!d) {
      std::string why = d.error().detail.empty() ? d.error().message() : d.error().detail;
      return bad(field, "bad duration \"" + v.get<std::string>() + "\": " + why);
    }
    if (*d > kMaxDuration) return bad(field, "is longer than a year");
    return *d;
  }
  return bad(field, "must be a duration like \"30s\", \"500ms\", \"5m\" or a number of seconds");
}

Expected<std::map<std::string, std::string>> parse_string_map(const json& v, const char* field,
                                                              size_t max_entries) {
  if (!v.is_object()) return bad(field, "must be an object of strings");
  if (v.size() > max_entries)
    return bad(field, "has more than " + std::to_string(max_entries) + " entries");
  std::map<std::string, std::string> out;
  for (const auto& [k, val] : v.items()) {
    if (!val.is_string()) return bad(field, "value of \"" + k + "\" must be a string");
    out.emplace(k, val.get<std::string>());
  }
  return out;
}

Expected<std::optional<std::string>> optional_string(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return bad(field, "must be a string");
  std::string s = it->get<std::string>();
  if (has_nul(s)) return bad(field, "must not contain NUL bytes");
  return std::optional<std::string>(std::move(s));
}

bool known_interpreter(const std::string& name) {
  return name == "sh" || name == "bash" || name == "python3" || (!name.empty() && name[0] == '/');
}

Expected<JobRequest> parse_object(const json& j) {
  if (!j.is_object()) return bad("body", "must be a JSON object");
  static const char* const kKnown[] = {"command", "script",  "interpreter", "env",
                                       "cwd",     "timeout", "kill_after",  "user",
                                       "stdin",   "labels",  "limits"};
  for (const auto& [k, v] : j.items()) {
    (void)v;
    bool known = false;
    for (const char* name : kKnown) known = known || k == name;
    if (!known) return k.empty() ? bad("body", "unknown field \"\"") : bad(k, "unknown field");
  }

  JobRequest req;
  bool has_command = j.contains("command") && !j["command"].is_null();
  bool has_script = j.contains("script") && !j["script"].is_null();
  if (has_command == has_script)
    return bad("command", "give exactly one of \"command\" (an argv array) or \"script\"");

  if (has_command) {
    const json& c = j["command"];
    if (!c.is_array() || c.empty()) return bad("command", "must be a non-empty array of strings");
    if (c.size() > kMaxArgs)
      return bad("command", "has more than " + std::to_string(kMaxArgs) + " arguments");
    for (const auto& a : c) {
      if (!a.is_string()) return bad("command", "every argument must be a string");
      std::string s = a.get<std::string>();
      if (has_nul(s)) return bad("command", "arguments must not contain NUL bytes");
      req.command.push_back(std::move(s));
    }
    if (req.command[0].empty()) return bad("command", "the program (first element) is empty");
    if (j.contains("interpreter") && !j["interpreter"].is_null())
      return bad("interpreter", "only goes with \"script\"");
  } else {
    if (!j["script"].is_string()) return bad("script", "must be a string");
    req.script = j["script"].get<std::string>();
    if (has_nul(*req.script)) return bad("script", "must not contain NUL bytes");
    auto interp = optional_string(j, "interpreter");
    if (!interp) return interp.error();
    req.interpreter = interp->value_or("sh");
    if (!known_interpreter(req.interpreter))
      return bad("interpreter", "unknown interpreter \"" + req.interpreter +
                                    "\" (use sh, bash, python3 or an absolute path)");
  }

  if (auto it = j.find("env"); it != j.end() && !it->is_null()) {
    auto env = parse_string_map(*it, "env", kMaxEnv);
    if (!env) return env.error();
    for (const auto& [k, v] : *env) {
      if (k.empty() || k.find('=') != std::string::npos || has_nul(k))
        return bad("env", "bad variable name \"" + k + "\" (empty, or contains '=' or NUL)");
      if (has_nul(v)) return bad("env", "value of \"" + k + "\" contains a NUL byte");
    }
    req.env = std::move(*env);
  }

  auto cwd = optional_string(j, "cwd");
  if (!cwd) return cwd.error();
  if (*cwd && (*cwd)->empty()) return bad("cwd", "must not be empty");
  req.cwd = std::move(*cwd);

  for (const char* field : {"timeout", "kill_after"}) {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) continue;
    auto d = parse_duration_field(*it, field);
    if (!d) return d.error();
    (std::string_view(field) == "timeout" ? req.timeout : req.kill_after) = *d;
  }

  auto user = optional_string(j, "user");
  if (!user) return user.error();
  if (*user && (*user)->empty()) return bad("user", "must not be empty");
  req.user = std::move(*user);

  if (auto it = j.find("stdin"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return bad("stdin", "must be a string");
    req.stdin_text = it->get<std::string>();
  }

  if (auto it = j.find("labels"); it != j.end() && !it->is_null()) {
    auto labels = parse_string_map(*it, "labels", kMaxLabels);
    if (!labels) return labels.error();
    for (const auto& [k, v] : *labels) {
      if (k.empty() || k.size() > kMaxLabelKey || k.find(':') != std::string::npos || has_nul(k))
        return bad("labels", "bad label name \"" + k + "\" (1-128 characters, no ':')");
      if (v.size() > kMaxLabelValue || has_nul(v))
        return bad("labels", "value of \"" + k + "\" is too long or contains NUL");
    }
    req.labels = std::move(*labels);
  }

  if (auto it = j.find("limits"); it != j.end() && !it->is_null()) {
    auto limits = parse_limits(*it);
    if (!limits) return limits.error();
    req.limits = *limits;
  }
  return req;
}

}  // namespace

Expected<JobRequest> parse_job_request(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("body", "is not valid JSON");
  return parse_object(j);
}

Expected<void> check_on_host(const JobRequest& req) {
  if (req.cwd) {
    struct stat st {};
    if (::stat(req.cwd->c_str(), &st) != 0)
      return bad("cwd", "\"" + *req.cwd + "\": " + tend::errno_text(errno));
    if (!S_ISDIR(st.st_mode)) return bad("cwd", "\"" + *req.cwd + "\" is not a directory");
  }
  if (req.user) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    int rc = ::getpwnam_r(req.user->c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) return bad("user", "no such user \"" + *req.user + "\"");
  }
  if (req.script && !req.interpreter.empty() && req.interpreter[0] == '/') {
    if (::access(req.interpreter.c_str(), X_OK) != 0)
      return bad("interpreter", "\"" + req.interpreter + "\" is not an executable file");
  }
  return {};
}

json to_json(const JobRequest& req) {
  json j = json::object();
  if (req.script) {
    j["script"] = *req.script;
    j["interpreter"] = req.interpreter;
  } else {
    j["command"] = req.command;
  }
  j["env"] = req.env;
  j["cwd"] = req.cwd ? json(*req.cwd) : json(nullptr);
  // Seconds as a number: exact (milliseconds), and read back by the same parser.
  auto seconds = [](const std::optional<std::chrono::milliseconds>& d) {
    return d ? json(static_cast<double>(d->count()) / 1000.0) : json(nullptr);
  };
  j["timeout"] = seconds(req.timeout);
  j["kill_after"] = seconds(req.kill_after);
  j["user"] = req.user ? json(*req.user) : json(nullptr);
  j["labels"] = req.labels;
  j["limits"] = limits_json(req.limits);
  return j;
}

Expected<JobRequest> request_from_json(const nlohmann::json& j) {
  // stdin is stored apart (JOBDIR/stdin), so it is not in `j`.
  return parse_object(j);
}

std::vector<std::string> job_argv(const JobRequest& req, const std::string& script_path) {
  if (!req.script) return req.command;
  std::string interp = req.interpreter;
  if (interp == "sh") interp = "/bin/sh";
  return {interp, script_path};
}

}  // namespace tend
