// A face's web page: a fixed table of files compiled into the binary (cmake/embed_assets.cmake),
// served open (no token: the page asks for it) at `/` (index.html) and `/assets/*`, with an ETag
// per file so a browser revalidates for a 304 instead of downloading again, and the headers that
// keep the page from being framed by another site or running anything it did not ship.
#pragma once

#include <span>
#include <string_view>

#include "http/router.hpp"

namespace tend::http {

struct PageAsset {
  std::string_view path;         // "/index.html" or "/assets/NAME"
  const std::string_view* body;  // a pointer: the data is defined in another translation unit
  std::string_view content_type;
};

// The asset at exactly `path`, or nullptr.
const PageAsset* find_page_asset(std::span<const PageAsset> assets, std::string_view path);

// The page's routes: GET / and /index.html (the table's "/index.html"), GET /assets/* (by path).
// `assets` must outlive the router (a static table).
void add_page_routes(Router& r, std::span<const PageAsset> assets);

}  // namespace tend::http
