#include "http/page.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace tend::http {

namespace {

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
  // Revalidate every time (a 304 costs nothing): a new binary's page is never shown stale.
  res.set("Cache-Control", "no-cache");
}

Response serve(const Request& req, std::span<const PageAsset> assets, std::string_view path) {
  const PageAsset* a = find_page_asset(assets, path);
  if (!a) return error_response(Status::not_found, "", "no such asset");
  std::string tag = etag_of(*a->body);
  Response res = req.header("If-None-Match") == tag
                     ? text_response(Status::not_modified, "", a->content_type)
                     : text_response(Status::ok, std::string(*a->body), a->content_type);
  res.set("ETag", tag);
  page_headers(res);
  return res;
}

}  // namespace

const PageAsset* find_page_asset(std::span<const PageAsset> assets, std::string_view path) {
  for (const PageAsset& a : assets)
    if (a.path == path) return &a;
  return nullptr;
}

void add_page_routes(Router& r, std::span<const PageAsset> assets) {
  auto index = [assets](const Request& q) { return serve(q, assets, "/index.html"); };
  r.add_open(Verb::get, "/", index);
  r.add_open(Verb::get, "/index.html", index);
  r.add_open(Verb::get, "/assets/*",
             [assets](const Request& q) { return serve(q, assets, q.path()); });
}

}  // namespace tend::http
