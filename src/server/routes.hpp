// The server's HTTP API (docs/api.md, "tend server"): one named coroutine per route, the
// bearer-token guard in front of all but /healthz. Every answer is read from or written to etcd
// when asked: the server holds no job state.
#pragma once

#include "http/router.hpp"
#include "server/context.hpp"

namespace tend::server {

http::Router make_routes(ServerContext& ctx);

}  // namespace tend::server
