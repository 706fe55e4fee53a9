#include "web_assets.hpp"

#include <array>

#include "web_asset_data.hpp"

namespace tend::agent {

namespace {

struct Route {
  std::string_view path;
  const std::string_view* body;  // a pointer: the data is defined in another translation unit
  std::string_view content_type;
};

const std::array<Route, 4> kRoutes{{
    {"/index.html", &web_data::index_html, "text/html; charset=utf-8"},
    {"/assets/app.js", &web_data::app_js, "text/javascript; charset=utf-8"},
    {"/assets/output.js", &web_data::output_js, "text/javascript; charset=utf-8"},
    {"/assets/style.css", &web_data::style_css, "text/css; charset=utf-8"},
}};

}  // namespace

std::optional<WebAsset> find_web_asset(std::string_view path) {
  for (const Route& route : kRoutes) {
    if (route.path == path) return WebAsset{*route.body, route.content_type};
  }
  return std::nullopt;
}

}  // namespace tend::agent
