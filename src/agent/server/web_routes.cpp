#include "server/web_routes.hpp"

#include "http/page.hpp"
#include "web/web_assets.hpp"

namespace tend::agent {

void add_web_routes(http::Router& r) {
  http::add_page_routes(r, web_assets());
}

}  // namespace tend::agent
