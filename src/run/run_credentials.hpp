// --user / --group: names or numbers to the uid, gid and supplementary groups to switch to.
#pragma once

#include <optional>
#include <string>

#include "tend/command.hpp"
#include "tend/error.hpp"

namespace tend::run_face {

// The user's uid, primary gid and supplementary groups (getgrouplist), unless `group` is given:
// then that group is the only one. An Error's detail is a sentence for the user.
Expected<Credentials> resolve_credentials(const std::optional<std::string>& user,
                                          const std::optional<std::string>& group);

}  // namespace tend::run_face
