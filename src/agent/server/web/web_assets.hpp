// The agent's web page, embedded in the binary (served by http::add_page_routes).
#pragma once

#include <span>

#include "http/page.hpp"

namespace tend::agent {

// "/index.html", "/assets/app.js", "/assets/style.css".
std::span<const http::PageAsset> web_assets();

}  // namespace tend::agent
