// The web page's routes: `/` and `/assets/*`, open (no token: the page asks for it), with an
// ETag per asset so a browser revalidates for a 304 instead of downloading again, and the
// headers that keep the page from being framed by another site.
#pragma once

#include "http/router.hpp"

namespace tend::agent {

void add_web_routes(http::Router& r);

}  // namespace tend::agent
