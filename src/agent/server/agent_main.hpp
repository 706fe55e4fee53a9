// `tend agent`: the job service. main reads top to bottom: parse the options, prepare (data
// directory, database, scheduler), serve (HTTP until SIGTERM/SIGINT). Jobs keep running when it
// stops: they are supervised by their shims and re-attached on the next start.
#pragma once

namespace tend::agent {

int agent_main(int argc, char** argv);

}  // namespace tend::agent
