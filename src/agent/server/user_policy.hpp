// Who jobs may run as: `tend agent --allow-users LIST --deny-users LIST`. The default allows
// every user (what scripts written for earlier agents expect): the token is then as powerful as
// root (docs/security.md).
#pragma once

#include <optional>
#include <set>
#include <string>

namespace tend::agent {

struct UserPolicy {
  std::optional<std::set<std::string>> allow;  // nullopt: everyone not denied
  std::set<std::string> deny;

  // Why `user` may not run jobs, or nullopt if it may.
  std::optional<std::string> refusal(const std::string& user) const {
    if (deny.count(user)) return "jobs may not run as \"" + user + "\" (--deny-users)";
    if (allow && !allow->count(user))
      return "jobs may not run as \"" + user + "\" (not in --allow-users)";
    return std::nullopt;
  }
};

// Splits "a,b, c" into names; empty entries are dropped.
std::set<std::string> parse_user_list(const std::string& text);

}  // namespace tend::agent
