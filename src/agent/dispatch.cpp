// The tend-agent program's dispatcher: the service and its clients.
#include <string>

#include "agent_face.hpp"
#include "client/client.hpp"
#include "server/agent_main.hpp"

namespace tend::agent {

int dispatch(std::string_view cmd, int argc, char** argv) {
  if (cmd == "agent") return agent_main(argc, argv);
  if (cmd == "submit") return submit_main(argc, argv);
  if (cmd == "jobs") return jobs_main(argc, argv);
  if (cmd == "logs") return logs_main(argc, argv);
  if (cmd == "cancel") return cancel_main(argc, argv);
  if (cmd == "rm") return rm_main(argc, argv);
  if (cmd == "machines") return machines_main(argc, argv);
  return kNotMine;
}

}  // namespace tend::agent
