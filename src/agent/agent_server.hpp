// `tend agent`: the job service. Parses its options, prepares the data directory and the token,
// then runs the Supervisor and the HTTP API until SIGTERM/SIGINT (jobs keep running: they are
// supervised by their shims and re-attached on the next start).
#pragma once

namespace tend::agent {

int agent_main(int argc, char** argv);

}  // namespace tend::agent
