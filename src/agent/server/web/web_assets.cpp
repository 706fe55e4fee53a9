#include "web_assets.hpp"

#include <array>

#include "web_asset_data.hpp"

namespace tend::agent {

namespace {

const std::array<http::PageAsset, 6> kAssets{{
    {"/index.html", &web_data::index_html, "text/html; charset=utf-8"},
    {"/assets/app.js", &web_data::app_js, "text/javascript; charset=utf-8"},
    {"/assets/output.js", &web_data::output_js, "text/javascript; charset=utf-8"},
    {"/assets/style.css", &web_data::style_css, "text/css; charset=utf-8"},
    // Shared with the fleet's page (src/web).
    {"/assets/page.js", &web_data::page_js, "text/javascript; charset=utf-8"},
    {"/assets/output.css", &web_data::output_css, "text/css; charset=utf-8"},
}};

}  // namespace

std::span<const http::PageAsset> web_assets() {
  return kAssets;
}

}  // namespace tend::agent
