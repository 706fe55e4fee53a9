// GET /v1/jobs/{id}/output: a job's output, read from its file in the job directory. Whole
// (with Content-Length, streamed from disk: memory stays small whatever the size), or followed
// as it grows: plain bytes (?follow=1) or server-sent events (?sse=1 or Accept:
// text/event-stream; a ": keep-alive" comment after http::kHeartbeat of silence, `end` last: a
// stream without it was cut short). A follower is a coroutine and a 64 KiB buffer; it waits on the
// shared DirWatch and ends when the job has ended and everything is sent, or at once when the
// client hangs up or the server stops.
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>

#include "http/server.hpp"
#include "server/dir_watch.hpp"
#include "server/store.hpp"

namespace tend::agent {

struct OutputContext {
  Store& store;
  DirWatch& watch;
  std::string jobs_dir;
};

boost::asio::awaitable<void> serve_output(http::Exchange& ex, OutputContext& ctx);

}  // namespace tend::agent
