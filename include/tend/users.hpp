// The password and group databases (NSS: files, LDAP, ...), looked up the thread-safe way
// (getpwnam_r and friends) with a buffer that grows when an entry does not fit (ERANGE).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tend/error.hpp"

namespace tend {

struct UserEntry {
  uid_t uid = 0;
  gid_t gid = 0;  // primary group
  std::string name;
  std::string home;
  std::string shell;
};

struct GroupEntry {
  gid_t gid = 0;
  std::string name;
};

// nullopt: no such entry. An Error: the lookup itself failed (e.g. an NSS service is down),
// {"getpwnam_r", errno, name}; do not mistake that for "no such user".
Expected<std::optional<UserEntry>> find_user(std::string_view name);
Expected<std::optional<UserEntry>> find_user(uid_t uid);
Expected<std::optional<GroupEntry>> find_group(std::string_view name);

// The user's groups as login would set them (getgrouplist): its primary group first.
std::vector<gid_t> supplementary_groups(const UserEntry& user);

}  // namespace tend
