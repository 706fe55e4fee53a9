// The agent's web page at `/` and `/assets/*` (http/page.hpp: open, ETag, framing headers).
#pragma once

#include "http/router.hpp"

namespace tend::agent {

void add_web_routes(http::Router& r);

}  // namespace tend::agent
