#include "tend/users.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>

namespace tend {
namespace {

// An entry larger than this is not an entry but a broken database.
constexpr size_t kMaxBuffer = size_t{1} << 20;

// Calls `lookup(buf, size)` (a getXXX_r that copies out what it found), growing the buffer on
// ERANGE. Returns the getXXX_r's code.
template <class Lookup>
int lookup_growing(Lookup lookup) {
  std::vector<char> buf(4096);
  for (;;) {
    int rc = lookup(buf.data(), buf.size());
    if (rc != ERANGE || buf.size() >= kMaxBuffer) return rc;
    buf.resize(buf.size() * 2);
  }
}

// getpwnam_r and friends say "not found" as 0 with no result, or (glibc, some NSS modules) as
// ENOENT, ESRCH, EBADF or EPERM; every other code is a failed lookup.
bool means_not_found(int rc) {
  return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

template <class Lookup>
Expected<std::optional<UserEntry>> find_user_by(const std::string& key, const char* stage,
                                                Lookup lookup) {
  // The entry's strings point into the buffer: they are copied out before it goes.
  std::optional<UserEntry> entry;
  int rc = lookup_growing([&](char* buf, size_t n) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    int r = lookup(&pw, buf, n, &found);
    if (r == 0 && found)
      entry =
          UserEntry{found->pw_uid, found->pw_gid, found->pw_name, found->pw_dir, found->pw_shell};
    return r;
  });
  if (entry) return entry;
  if (means_not_found(rc)) return std::optional<UserEntry>();
  return Error{stage, rc, key, {}};
}

}  // namespace

Expected<std::optional<UserEntry>> find_user(std::string_view name) {
  const std::string key(name);
  return find_user_by(key, "getpwnam_r", [&](passwd* p, char* buf, size_t n, passwd** out) {
    return ::getpwnam_r(key.c_str(), p, buf, n, out);
  });
}

Expected<std::optional<UserEntry>> find_user(uid_t uid) {
  return find_user_by(std::to_string(uid), "getpwuid_r",
                      [&](passwd* p, char* buf, size_t n, passwd** out) {
                        return ::getpwuid_r(uid, p, buf, n, out);
                      });
}

Expected<std::optional<GroupEntry>> find_group(std::string_view name) {
  const std::string key(name);
  std::optional<GroupEntry> entry;
  int rc = lookup_growing([&](char* buf, size_t n) {
    struct group gr {};
    struct group* found = nullptr;
    int r = ::getgrnam_r(key.c_str(), &gr, buf, n, &found);
    if (r == 0 && found) entry = GroupEntry{found->gr_gid, found->gr_name};
    return r;
  });
  if (entry) return entry;
  if (means_not_found(rc)) return std::optional<GroupEntry>();
  return Error{"getgrnam_r", rc, key, {}};
}

std::vector<gid_t> supplementary_groups(const UserEntry& user) {
  std::vector<gid_t> groups(64);
  for (;;) {
    int n = static_cast<int>(groups.size());
    if (::getgrouplist(user.name.c_str(), user.gid, groups.data(), &n) >= 0) {
      groups.resize(static_cast<size_t>(n));
      return groups;
    }
    // On failure n holds the number needed.
    groups.resize(std::max(static_cast<size_t>(n), groups.size() * 2));
  }
}

}  // namespace tend
