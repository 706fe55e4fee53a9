// The raw bytes of the fleet page's files, defined by the file cmake/embed_assets.cmake generates
// at build time.
#pragma once

#include <string_view>

namespace tend::server::web_data {

extern const std::string_view index_html;
extern const std::string_view app_js;
extern const std::string_view style_css;
// Shared with the agent's page (src/web).
extern const std::string_view page_js;
extern const std::string_view output_js;
extern const std::string_view output_css;

}  // namespace tend::server::web_data
