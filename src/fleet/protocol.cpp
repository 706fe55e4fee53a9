#include "fleet/protocol.hpp"

#include <algorithm>

namespace tend::fleet {

using json = nlohmann::json;

std::optional<Error> check_segment(std::string_view what, std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Error::usage(std::string(what) + " \"" + std::string(name) + "\" " + why);
  };
  if (name.empty()) return Error::usage(std::string(what) + " must not be empty");
  if (name.size() > 128) return bad("is longer than 128 bytes");
  if (name == "." || name == "..") return bad("is not a name");
  bool fine = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (!fine) return bad("may only hold letters, digits, '.', '_' and '-'");
  return std::nullopt;
}

// ---- keys ----

Keys::Keys(std::string prefix) : prefix_(std::move(prefix)) {
  if (prefix_.empty() || prefix_.back() != '/') prefix_ += '/';
}

namespace {
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (auto p : parts) s += p;
  return s;
}
}  // namespace

std::string Keys::machine_key(std::string_view name) const {
  return cat({prefix_, "machines/", name});
}
std::string Keys::machines_prefix() const {
  return prefix_ + "machines/";
}
std::string Keys::seen_key(std::string_view name) const {
  return cat({prefix_, "seen/", name});
}
std::string Keys::seen_prefix() const {
  return prefix_ + "seen/";
}
std::string Keys::job_key(std::string_view id) const {
  return cat({prefix_, "jobs/", id});
}
std::string Keys::jobs_prefix() const {
  return prefix_ + "jobs/";
}
std::string Keys::assign_key(std::string_view name, std::string_view id) const {
  return cat({prefix_, "assign/", name, "/", id});
}
std::string Keys::assign_prefix(std::string_view name) const {
  return cat({prefix_, "assign/", name, "/"});
}
std::string Keys::assignments_prefix() const {
  return cat({prefix_, "assign/"});
}
std::string Keys::claim_key(std::string_view id, std::string_view name) const {
  return cat({prefix_, "claims/", id, "/", name});
}
std::string Keys::claims_prefix(std::string_view id) const {
  return cat({prefix_, "claims/", id, "/"});
}
std::string Keys::run_key(std::string_view id, std::string_view name) const {
  return cat({prefix_, "runs/", id, "/", name});
}
std::string Keys::runs_prefix(std::string_view id) const {
  return cat({prefix_, "runs/", id, "/"});
}
std::string Keys::all_runs_prefix() const {
  return prefix_ + "runs/";
}

std::string Keys::housekeeper_key() const {
  return prefix_ + "housekeeper";
}

std::optional<std::string> Keys::last_segment(std::string_view prefix, std::string_view key) {
  if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  auto rest = key.substr(prefix.size());
  if (rest.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(rest);
}

std::string_view instance_data_id(std::string_view instance) {
  auto colon = instance.find(':');
  return colon == std::string_view::npos ? std::string_view{} : instance.substr(0, colon);
}

bool is_final_run_state(std::string_view s) {
  return !s.empty() && s != run_state::queued && s != run_state::running;
}

// ---- encoding ----

namespace {
json opt(const std::optional<int>& v) {
  return v ? json(*v) : json(nullptr);
}
json opt(const std::optional<std::string>& v) {
  return v ? json(*v) : json(nullptr);
}
}  // namespace

json to_json(const MachineRecord& m) {
  return {{"name", m.name},
          {"labels", m.labels},
          {"address", m.address},
          {"version", m.version},
          {"instance", m.instance}};
}
json to_json(const SeenRecord& s) {
  json out = {{"name", s.name},       {"labels", s.labels},       {"address", s.address},
              {"version", s.version}, {"last_seen", s.last_seen}, {"ttl", s.ttl}};
  if (s.unreachable_since) out["unreachable_since"] = *s.unreachable_since;
  return out;
}
json to_json(const JobSpec& j) {
  return {{"id", j.id},
          {"request", j.request},
          {"target", j.target},
          {"machines", j.machines},
          {"created_at", j.created_at}};
}
json to_json(const Assignment& a) {
  return a.cancel ? json{{"cancel", true}} : json::object();
}
json to_json(const Claim& c) {
  return {{"instance", c.instance}};
}
json to_json(const RunRecord& r) {
  return {{"state", r.state},
          {"exit_code", opt(r.exit_code)},
          {"signal", opt(r.signal)},
          {"error", opt(r.error)},
          {"started_at", opt(r.started_at)},
          {"finished_at", opt(r.finished_at)},
          {"output_bytes", r.output_bytes},
          {"output_dropped_bytes", r.output_dropped_bytes},
          {"leftovers_killed", r.leftovers_killed}};
}

// ---- decoding ----

namespace {

// Reads the fields of one record; the first problem is kept and reported.
class Reader {
 public:
  Reader(const char* record, std::string_view text) : record_(record) {
    doc_ = json::parse(text, nullptr, false);
    if (doc_.is_discarded())
      fail("", "is not JSON");
    else if (!doc_.is_object())
      fail("", "is not a JSON object");
  }

  void str(const char* field, std::string& out, bool required = true) {
    const json* v = find(field, required);
    if (!v) return;
    if (!v->is_string()) return fail(field, "must be a string");
    out = v->get<std::string>();
  }
  void opt_str(const char* field, std::optional<std::string>& out) {
    const json* v = find(field, false);
    if (!v || v->is_null()) return;
    if (!v->is_string()) return fail(field, "must be a string or null");
    out = v->get<std::string>();
  }
  template <class Int>
  void integer(const char* field, Int& out) {
    const json* v = find(field, false);
    if (!v) return;
    if (!v->is_number_integer()) return fail(field, "must be an integer");
    out = v->get<Int>();
  }
  void opt_int(const char* field, std::optional<int>& out) {
    const json* v = find(field, false);
    if (!v || v->is_null()) return;
    if (!v->is_number_integer()) return fail(field, "must be an integer or null");
    out = v->get<int>();
  }
  void boolean(const char* field, bool& out) {
    const json* v = find(field, false);
    if (!v) return;
    if (!v->is_boolean()) return fail(field, "must be true or false");
    out = v->get<bool>();
  }
  void labels(const char* field, std::map<std::string, std::string>& out) {
    const json* v = find(field, false);
    if (!v) return;
    if (!v->is_object()) return fail(field, "must be an object of strings");
    for (const auto& [k, val] : v->items()) {
      if (!val.is_string()) return fail(field, "must be an object of strings");
      out[k] = val.get<std::string>();
    }
  }
  void names(const char* field, std::vector<std::string>& out) {
    const json* v = find(field, true);
    if (!v) return;
    if (!v->is_array()) return fail(field, "must be a list of names");
    for (const auto& n : *v) {
      if (!n.is_string()) return fail(field, "must be a list of names");
      out.push_back(n.get<std::string>());
    }
  }
  void object(const char* field, json& out) {
    const json* v = find(field, true);
    if (!v) return;
    if (!v->is_object()) return fail(field, "must be an object");
    out = *v;
  }

  template <class T>
  Expected<T> result(T value) {
    if (error_) return *error_;
    return value;
  }

 private:
  const json* find(const char* field, bool required) {
    if (error_) return nullptr;
    auto it = doc_.find(field);
    if (it == doc_.end()) {
      if (required) fail(field, "is missing");
      return nullptr;
    }
    return &*it;
  }
  void fail(const char* field, const char* why) {
    if (error_) return;
    std::string where =
        std::string(record_) + (*field ? std::string(" field \"") + field + "\"" : "");
    error_ = Error::with_detail("decode " + std::string(record_), where + " " + why,
                                ErrorKind::bad_data);
  }

  const char* record_;
  json doc_;
  std::optional<Error> error_;
};

}  // namespace

Expected<MachineRecord> machine_from_json(std::string_view text) {
  Reader r("machine record", text);
  MachineRecord m;
  r.str("name", m.name);
  r.labels("labels", m.labels);
  r.str("address", m.address, false);
  r.str("version", m.version, false);
  r.str("instance", m.instance);
  return r.result(std::move(m));
}

Expected<SeenRecord> seen_from_json(std::string_view text) {
  Reader r("seen record", text);
  SeenRecord s;
  r.str("name", s.name);
  r.labels("labels", s.labels);
  r.str("address", s.address, false);
  r.str("version", s.version, false);
  r.str("last_seen", s.last_seen, false);
  r.integer("ttl", s.ttl);
  r.opt_str("unreachable_since", s.unreachable_since);
  return r.result(std::move(s));
}

Expected<JobSpec> job_from_json(std::string_view text) {
  Reader r("job spec", text);
  JobSpec j;
  r.str("id", j.id);
  r.object("request", j.request);
  r.object("target", j.target);
  r.names("machines", j.machines);
  r.str("created_at", j.created_at, false);
  return r.result(std::move(j));
}

Expected<Assignment> assignment_from_json(std::string_view text) {
  Reader r("assignment", text);
  Assignment a;
  r.boolean("cancel", a.cancel);
  return r.result(a);
}

Expected<Claim> claim_from_json(std::string_view text) {
  Reader r("claim", text);
  Claim c;
  r.str("instance", c.instance);
  return r.result(std::move(c));
}

Expected<RunRecord> run_from_json(std::string_view text) {
  Reader r("run record", text);
  RunRecord run;
  r.str("state", run.state);
  r.opt_int("exit_code", run.exit_code);
  r.opt_int("signal", run.signal);
  r.opt_str("error", run.error);
  r.opt_str("started_at", run.started_at);
  r.opt_str("finished_at", run.finished_at);
  r.integer("output_bytes", run.output_bytes);
  r.integer("output_dropped_bytes", run.output_dropped_bytes);
  r.integer("leftovers_killed", run.leftovers_killed);
  return r.result(std::move(run));
}

}  // namespace tend::fleet
