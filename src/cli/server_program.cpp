// tend-server: the fleet's control plane (`tend server` runs this), a program of its own like
// tend-agent, so that `tend run` and `tend init` load none of it.
#include <cstdio>
#include <string_view>

#include "server/server_main.hpp"

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "server")
    return tend::server::server_main(argc - 1, argv + 1);
  std::fputs("usage: tend-server server [OPTIONS] (or: tend server ...)\n", stderr);
  return 125;
}
