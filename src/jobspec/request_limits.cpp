#include "jobspec/request_limits.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "tend/parse.hpp"

namespace tend {

using json = nlohmann::json;

namespace {

Error bad(const std::string& field, std::string message) {
  return Error::with_detail("limits." + field, std::move(message));
}

Expected<uint64_t> parse_size_field(const json& v, const std::string& field) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    if (auto n = parse_size(text)) return *n;
    return bad(field, "\"" + text + "\" is not a size (bytes, or like \"512M\", \"2G\")");
  }
  if (v.is_number()) return bad(field, "must not be negative or fractional");
  return bad(field, "must be a size: bytes, or text like \"512M\", \"2G\"");
}

void merge(Limits& into, const Limits& from) {
  if (from.memory_max) into.memory_max = from.memory_max;
  if (from.memory_high) into.memory_high = from.memory_high;
  if (from.swap_max) into.swap_max = from.swap_max;
  if (from.pids_max) into.pids_max = from.pids_max;
  if (from.cpus) into.cpus = from.cpus;
}

}  // namespace

Expected<Limits> parse_limits(const json& v) {
  if (!v.is_object()) return Error::with_detail("limits", "must be an object");
  Limits l;
  for (const auto& [key, val] : v.items()) {
    if (val.is_null()) continue;
    Limits one;  // this field alone, for the library's range check
    if (key == "memory" || key == "memory_high" || key == "swap") {
      auto n = parse_size_field(val, key);
      if (!n) return n.error();
      (key == "memory"        ? one.memory_max
       : key == "memory_high" ? one.memory_high
                              : one.swap_max) = *n;
    } else if (key == "pids") {
      if (!val.is_number_unsigned() || val.get<uint64_t>() == 0)
        return bad(key, "must be a whole number of processes, 1 or more");
      one.pids_max = val.get<uint64_t>();
    } else if (key == "cpu") {
      if (!val.is_number() || !std::isfinite(val.get<double>()) || !(val.get<double>() > 0))
        return bad(key, "must be a number of CPUs above 0, e.g. 0.5 or 2");
      one.cpus = val.get<double>();
    } else {
      return bad(key, "unknown limit (memory, memory_high, swap, pids, cpu)");
    }
    if (std::string why = validate(one); !why.empty()) return bad(key, why);
    merge(l, one);
  }
  // What is left for validate() is how fields go together: a high above the hard limit.
  if (std::string why = validate(l); !why.empty()) return bad("memory_high", why);
  return l;
}

json limits_json(const Limits& l) {
  json j = json::object();
  if (l.memory_max) j["memory"] = *l.memory_max;
  if (l.memory_high) j["memory_high"] = *l.memory_high;
  if (l.swap_max) j["swap"] = *l.swap_max;
  if (l.pids_max) j["pids"] = *l.pids_max;
  if (l.cpus) j["cpu"] = *l.cpus;
  return j;
}

std::optional<double> limit_value(const Limits& l, std::string_view field) {
  auto d = [](const auto& o) {
    return o ? std::optional<double>(static_cast<double>(*o)) : std::nullopt;
  };
  if (field == "memory") return d(l.memory_max);
  if (field == "memory_high") return d(l.memory_high);
  if (field == "swap") return d(l.swap_max);
  if (field == "pids") return d(l.pids_max);
  if (field == "cpu") return l.cpus;
  return std::nullopt;
}

}  // namespace tend
