// The tend-agent program's dispatcher: the service and its clients.
#include <string>

#include "agent_face.hpp"
#include "client/client.hpp"
#include "server/agent_main.hpp"

namespace tend::agent_face {

int dispatch(std::string_view cmd, int argc, char** argv) {
  if (cmd == "agent") return agent::agent_main(argc, argv);
  if (cmd == "submit") return agent::submit_main(argc, argv);
  if (cmd == "jobs") return agent::jobs_main(argc, argv);
  if (cmd == "logs") return agent::logs_main(argc, argv);
  if (cmd == "cancel") return agent::cancel_main(argc, argv);
  if (cmd == "rm") return agent::rm_main(argc, argv);
  return kNotMine;
}

}  // namespace tend::agent_face
