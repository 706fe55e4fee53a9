// The agent face: `tend agent` (the job service), its clients (`submit`, `jobs`, `logs`,
// `cancel`) and the per-job supervisor (`agent-shim`). Depends on libtend only.
//
// The service and clients live in their own program, `tend-agent`, which `tend` runs for those
// subcommands (as git runs git-foo): `tend run` and `tend init` stay small and start fast, with no
// HTTP, TLS or SQLite libraries to load. The shim is linked into `tend` itself, since one runs per
// job and it needs none of those either.
#pragma once

#include <string_view>

namespace tend::agent {

inline constexpr int kNotMine = -1;

// Subcommands served by the `tend-agent` program.
inline bool is_agent_command(std::string_view cmd) {
  return cmd == "agent" || cmd == "submit" || cmd == "jobs" || cmd == "logs" || cmd == "cancel" ||
         cmd == "rm" || cmd == "machines";
}

// Runs the subcommand `cmd` if it belongs to this face; kNotMine otherwise. argv[0] is `cmd`.
// (In tend-agent.)
int dispatch(std::string_view cmd, int argc, char** argv);

// `tend agent-shim JOBDIR`: supervises one job for the agent. (In tend.)
int shim_main(int argc, char** argv);

}  // namespace tend::agent
