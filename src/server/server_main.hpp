// The server face: `tend server --etcd URL[,URL...] [--listen ADDR:PORT] [--data DIR]
// --token-file FILE`, the fleet's control plane (docs/fleet.md, docs/api.md). It holds no job
// state: etcd does, so any number of servers may run and any may be killed.
#pragma once

namespace tend::server {

int server_main(int argc, char** argv);

}  // namespace tend::server
