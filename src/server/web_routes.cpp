#include "server/web_routes.hpp"

#include <array>

#include "server/web/web_data.hpp"

namespace tend::server {

namespace {

const std::array<http::PageAsset, 6> kAssets{{
    {"/index.html", &web_data::index_html, "text/html; charset=utf-8"},
    {"/assets/app.js", &web_data::app_js, "text/javascript; charset=utf-8"},
    {"/assets/style.css", &web_data::style_css, "text/css; charset=utf-8"},
    // Shared with the agent's page (src/web).
    {"/assets/page.js", &web_data::page_js, "text/javascript; charset=utf-8"},
    {"/assets/output.js", &web_data::output_js, "text/javascript; charset=utf-8"},
    {"/assets/output.css", &web_data::output_css, "text/css; charset=utf-8"},
}};

}  // namespace

std::span<const http::PageAsset> web_assets() {
  return kAssets;
}

void add_web_routes(http::Router& r) {
  http::add_page_routes(r, web_assets());
}

}  // namespace tend::server
