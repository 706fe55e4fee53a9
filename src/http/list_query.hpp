// The query parameters that the list endpoints of every face (GET /v1/jobs on the agent and on
// the server) read alike. A bad one is a 400 that names it; an absent one leaves the value as it
// is.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "http/message.hpp"

namespace tend::http {

// A page of a list: ?limit=N, from 1 to kMaxPageSize; kDefaultPageSize without it.
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

// ?limit=N into `limit`.
std::optional<Response> read_page_size(const Request& req, int& limit);

// ?label=KEY:VALUE into `label` (KEY not empty; VALUE may be, and may hold ':').
std::optional<Response> read_label_filter(
    const Request& req, std::optional<std::pair<std::string, std::string>>& label);

}  // namespace tend::http
