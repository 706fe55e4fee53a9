// POST /v1/jobs on the server: the agent's job body plus a "target". Validated whole before
// anything is written (the body by the job spec's parser, the target by select_machines against
// the machines etcd knows now), then one etcd transaction writes jobs/ID and assign/NAME/ID for
// every selected machine, on condition that jobs/ID does not exist yet.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/message.hpp"
#include "server/context.hpp"

namespace tend::server {

// 201 {"id", "state", "machines"}; 400 naming the field; 503 when etcd cannot confirm in time.
boost::asio::awaitable<http::Response> submit_job(ServerContext& ctx, const http::Request& req);

// A new job id: 11 hex digits of the milliseconds since the epoch, then 5 random ones, so that
// ids sort by creation time (16 characters, as the agent's).
std::string new_job_id();

}  // namespace tend::server
