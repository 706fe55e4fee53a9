// The bearer-token guard every service puts in front of its routes (Router::set_guard), and the
// HTTP server's figures in the Prometheus text format: shared by the agent and the fleet server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"
#include "http/server.hpp"

namespace tend::http {

// nullopt when `req` carries "Authorization: Bearer TOKEN" with `token`; else the 401 to send.
std::optional<Response> require_bearer(const Request& req, std::string_view token);

// The server's connection and request counters (ServerStats) as Prometheus text.
std::string render_http_metrics(const ServerStats& s);

}  // namespace tend::http
