// The agent's web page, embedded in the binary. The agent serves `/` as "/index.html" and
// `/assets/*` by their own path; these are the only paths that need no token.
#pragma once

#include <optional>
#include <string_view>

namespace tend::agent {

struct WebAsset {
  std::string_view body;
  std::string_view content_type;
};

// "/index.html", "/assets/app.js", "/assets/style.css"; nullopt if unknown.
std::optional<WebAsset> find_web_asset(std::string_view path);

}  // namespace tend::agent
