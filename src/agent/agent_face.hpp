// The agent face: `tend agent` (the job service) and its clients (`submit`, `jobs`, `logs`,
// `cancel`). Depends on libtend only.
#pragma once

#include <string_view>

namespace tend::agent_face {

inline constexpr int kNotMine = -1;

// Runs the subcommand `cmd` if it belongs to this face; kNotMine otherwise. argv[0] is `cmd`.
int dispatch(std::string_view cmd, int argc, char** argv);

}  // namespace tend::agent_face
