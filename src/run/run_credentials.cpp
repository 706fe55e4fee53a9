#include "run_credentials.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace tend::run_face {
namespace {

Error usage(std::string sentence) {
  return Error::usage(std::move(sentence));
}

std::optional<unsigned long> as_number(const std::string& s) {
  unsigned long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

struct UserEntry {
  uid_t uid;
  gid_t gid;
  std::string name;
};

// getpwnam_r / getpwuid_r with a buffer grown on ERANGE. nullopt: no such user.
Expected<std::optional<UserEntry>> find_user(const std::string& user) {
  auto num = as_number(user);
  std::vector<char> buf(4096);
  for (;;) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    int rc = num ? ::getpwuid_r(static_cast<uid_t>(*num), &pw, buf.data(), buf.size(), &found)
                 : ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (found) return std::optional<UserEntry>(UserEntry{pw.pw_uid, pw.pw_gid, pw.pw_name});
    if (rc != 0 && rc != ENOENT && rc != ESRCH)
      return usage("--user " + user + ": lookup failed: " + errno_text(rc));
    return std::optional<UserEntry>();
  }
}

Expected<gid_t> find_group(const std::string& group) {
  if (auto num = as_number(group)) return static_cast<gid_t>(*num);
  std::vector<char> buf(4096);
  for (;;) {
    struct group gr {};
    struct group* found = nullptr;
    int rc = ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (found) return gr.gr_gid;
    if (rc != 0 && rc != ENOENT && rc != ESRCH)
      return usage("--group " + group + ": lookup failed: " + errno_text(rc));
    return usage("--group " + group + ": no such group");
  }
}

std::vector<gid_t> supplementary_groups(const UserEntry& u) {
  std::vector<gid_t> groups(64);
  for (;;) {
    int n = static_cast<int>(groups.size());
    if (::getgrouplist(u.name.c_str(), u.gid, groups.data(), &n) >= 0) {
      groups.resize(static_cast<size_t>(n));
      return groups;
    }
    // On failure n holds the number needed.
    groups.resize(std::max(static_cast<size_t>(n), groups.size() * 2));
  }
}

}  // namespace

Expected<Credentials> resolve_credentials(const std::optional<std::string>& user,
                                          const std::optional<std::string>& group) {
  Credentials c;
  if (group) {
    auto gid = find_group(*group);
    if (!gid) return gid.error();
    c.gid = *gid;
    c.groups = std::vector<gid_t>{};  // the given group is the only one
  }
  if (!user) return c;

  auto entry = find_user(*user);
  if (!entry) return entry.error();
  if (!*entry) {
    auto num = as_number(*user);
    if (!num) return usage("--user " + *user + ": no such user");
    // A bare uid with no passwd entry has no primary group to take: it must be said.
    if (!c.gid)
      return usage("--user " + *user +
                   ": no such user in the password database (give --group too)");
    c.uid = static_cast<uid_t>(*num);
    return c;
  }
  c.uid = (*entry)->uid;
  if (!c.gid) {
    c.gid = (*entry)->gid;
    c.groups = supplementary_groups(**entry);
  }
  return c;
}

}  // namespace tend::run_face
