// gzip for response bodies: only where it pays (large, compressible, asked for). Brotli is not
// offered: at its default level it cost seconds per dynamic JSON list (issue 8's measurement).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tend::http {

// True if an Accept-Encoding header value admits gzip (a "gzip" or "*" coding without q=0).
bool accepts_gzip(std::string_view accept_encoding);
// `data` gzip-compressed at a fast level; nullopt if zlib fails.
std::optional<std::string> gzip(std::string_view data);
// True for the content types worth compressing (JSON, text, JavaScript, CSS, HTML, SVG).
bool compressible(std::string_view content_type);

}  // namespace tend::http
