// GET /v1/jobs/{id}/runs/{machine}/output: a run's output, which stays on the machine that ran
// it, relayed from that machine's agent (machines/NAME's address, the fleet's token) with the
// same `offset` and `follow` (and `sse`): live while the run runs, resumable by offset. A client
// that hangs up closes the upstream connection at once; an agent that fails midway (or is
// silent beyond http::kHeartbeatLost in an event stream) cuts the client's stream short: never
// a clean end, which would make the output look complete.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/server.hpp"
#include "server/context.hpp"

namespace tend::server {

boost::asio::awaitable<void> proxy_output(ServerContext& ctx, http::Exchange& ex);

}  // namespace tend::server
