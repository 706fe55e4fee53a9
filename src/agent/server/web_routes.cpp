#include "server/web_routes.hpp"

#include <cstdio>
#include <string>

#if defined(TEND_AGENT_WEB) && __has_include("web/web_assets.hpp")
#include "web/web_assets.hpp"
#define TEND_HAVE_WEB 1
#endif

namespace tend::agent {

namespace {

using http::Request;
using http::Response;
using http::Status;

// FNV-1a 64 of the body: assets are compiled in, so their tag never changes while we run.
std::string etag_of(std::string_view body) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : body) h = (h ^ c) * 1099511628211ull;
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

void page_headers(Response& res) {
  res.set("Content-Security-Policy",
          "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  // Revalidate every time (a 304 costs nothing): a new agent's page is never shown stale.
  res.set("Cache-Control", "no-cache");
}

Response asset(const Request& req, const std::string& path) {
#ifdef TEND_HAVE_WEB
  auto a = tend::agent::find_web_asset(path);
  if (!a) return http::error_response(Status::not_found, "", "no such asset");
  std::string tag = etag_of(a->body);
  Response res = req.header("If-None-Match") == tag
                     ? http::text_response(Status::not_modified, "", a->content_type)
                     : http::text_response(Status::ok, std::string(a->body), a->content_type);
  res.set("ETag", tag);
  page_headers(res);
  return res;
#else
  (void)req;
  (void)path;
  return http::error_response(Status::not_found, "", "this build has no web page");
#endif
}

}  // namespace

void add_web_routes(http::Router& r) {
  r.add_open(http::Verb::get, "/", [](const Request& q) { return asset(q, "/index.html"); });
  r.add_open(http::Verb::get, "/index.html",
             [](const Request& q) { return asset(q, "/index.html"); });
  r.add_open(http::Verb::get, "/assets/*", [](const Request& q) { return asset(q, q.path()); });
}

}  // namespace tend::agent
