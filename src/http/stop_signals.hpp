// How a service stops on a signal (the agent's and the server's one way): its stop signals
// arrive through a signalfd (no handlers, see tend::make_signalfd), and the first one stops the
// HTTP server.
#pragma once

#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "http/server.hpp"

namespace tend::http {

// Reads signals from `sig` until one other than SIGPIPE arrives (SIGPIPE is in the set only so
// that a write to a client that hung up is an error value, not a death). Then: writes `note` to
// stderr, runs `stopping`, stops `server`, and once it has stopped runs `stopped` and closes
// `sig`. Ends at once if `sig` is closed or fails. `sig` and `server` must outlive it.
boost::asio::awaitable<void> stop_on_signal(boost::asio::posix::stream_descriptor& sig,
                                            Server& server, std::string note,
                                            std::function<void()> stopping = {},
                                            std::function<void()> stopped = {});

}  // namespace tend::http
