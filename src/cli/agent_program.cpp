// tend-agent: the job service and its clients (`tend agent|submit|jobs|logs|cancel` run this).
#include <cstdio>
#include <string_view>

#include "agent_face.hpp"

int main(int argc, char** argv) {
  if (argc >= 2) {
    int rc = tend::agent::dispatch(argv[1], argc - 1, argv + 1);
    if (rc != tend::agent::kNotMine) return rc;
    std::fprintf(stderr, "tend-agent: unknown command '%s'\n", argv[1]);
  } else {
    std::fputs("usage: tend-agent agent|submit|jobs|logs|cancel|rm|machines [OPTIONS] (or: tend agent ...)\n",
               stderr);
  }
  return 125;
}
