#include "run_credentials.hpp"

#include <charconv>

#include "tend/users.hpp"

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

// A name, or a number that may or may not have an entry. nullopt: no such user.
Expected<std::optional<UserEntry>> lookup_user(const std::string& user) {
  auto num = as_number(user);
  auto entry = num ? find_user(static_cast<uid_t>(*num)) : find_user(user);
  if (!entry) return usage("--user " + user + ": lookup failed: " + entry.error().message());
  return entry;
}

Expected<gid_t> lookup_group(const std::string& group) {
  if (auto num = as_number(group)) return static_cast<gid_t>(*num);
  auto entry = find_group(group);
  if (!entry) return usage("--group " + group + ": lookup failed: " + entry.error().message());
  if (!*entry) return usage("--group " + group + ": no such group");
  return (*entry)->gid;
}

}  // namespace

Expected<Credentials> resolve_credentials(const std::optional<std::string>& user,
                                          const std::optional<std::string>& group) {
  Credentials c;
  if (group) {
    auto gid = lookup_group(*group);
    if (!gid) return gid.error();
    c.gid = *gid;
    c.groups = std::vector<gid_t>{};  // the given group is the only one
  }
  if (!user) return c;

  auto entry = lookup_user(*user);
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
