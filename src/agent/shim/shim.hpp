// `tend agent-shim JOBDIR`: the supervisor of one agent job (hidden subcommand). It runs the job
// described by the spec on its stdin with tend::Job, writes JOBDIR/result.json and exits. It lives
// in its own session, so the agent can die and restart without touching it. SIGTERM = cancel.
#pragma once

namespace tend::agent {

int shim_main(int argc, char** argv);

}  // namespace tend::agent
