// The fleet's web page (src/server/web), embedded in the binary: `/` and `/assets/*`, open (the
// page asks for the token), served by http::add_page_routes (ETag/304, CSP, no framing).
#pragma once

#include <span>

#include "http/page.hpp"
#include "http/router.hpp"

namespace tend::server {

// "/index.html", "/assets/app.js", "/assets/style.css".
std::span<const http::PageAsset> web_assets();

void add_web_routes(http::Router& r);

}  // namespace tend::server
