#include "fleet/target.hpp"

#include <algorithm>
#include <set>

namespace tend::fleet {

namespace {

using json = nlohmann::json;

Error bad(std::string message) {
  return Error::with_detail("target", std::move(message));
}

Expected<std::vector<std::string>> by_name(const json& list, const std::vector<Machine>& known) {
  if (!list.is_array() || list.empty())
    return bad("\"machines\" must be a non-empty list of machine names");
  std::set<std::string> names;
  for (const auto& n : list) {
    if (!n.is_string() || n.get<std::string>().empty())
      return bad("\"machines\" must hold machine names (non-empty strings)");
    std::string name = n.get<std::string>();
    bool exists = std::any_of(known.begin(), known.end(),
                              [&](const Machine& m) { return m.name == name; });
    if (!exists) return bad("no machine named \"" + name + "\"");
    names.insert(name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Expected<std::vector<std::string>> by_labels(const json& match, const std::vector<Machine>& known) {
  if (!match.is_object() || match.empty())
    return bad("\"match\" must be an object of labels, e.g. {\"role\": \"web\"}");
  for (const auto& [k, v] : match.items())
    if (!v.is_string()) return bad("label \"" + k + "\" must have a string value");
  std::vector<std::string> out;
  for (const auto& m : known) {
    if (!m.online) continue;
    bool all = std::all_of(match.items().begin(), match.items().end(), [&](const auto& kv) {
      auto it = m.labels.find(kv.key());
      return it != m.labels.end() && it->second == kv.value().template get<std::string>();
    });
    if (all) out.push_back(m.name);
  }
  if (out.empty()) return bad("no online machine has the labels " + match.dump());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Expected<std::vector<std::string>> select_machines(const json& target,
                                                   const std::vector<Machine>& known) {
  if (!target.is_object())
    return bad("must be an object: {\"machines\": [...]}, {\"match\": {...}} or {\"all\": true}");
  if (target.size() != 1)
    return bad("give exactly one of \"machines\", \"match\" or \"all\"");
  if (target.contains("machines")) return by_name(target["machines"], known);
  if (target.contains("match")) return by_labels(target["match"], known);
  if (target.contains("all")) {
    if (target["all"] != true) return bad("\"all\" must be true");
    std::vector<std::string> out;
    for (const auto& m : known)
      if (m.online) out.push_back(m.name);
    if (out.empty()) return bad("no machine is online");
    std::sort(out.begin(), out.end());
    return out;
  }
  return bad("unknown form: give \"machines\", \"match\" or \"all\"");
}

}  // namespace tend::fleet
