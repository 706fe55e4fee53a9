#include "http/gzip.hpp"

#include <zlib.h>

#include "http/text.hpp"

namespace tend::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool accepts_gzip(std::string_view header) {
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = trim(header.substr(pos, comma - pos));
    pos = comma + 1;
    size_t semi = item.find(';');
    std::string_view coding = trim(item.substr(0, semi));
    if (!iequals(coding, "gzip") && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = trim(item.substr(semi + 1));
    // "q=0", "q=0.0", "q=0.000" refuse it; anything else accepts.
    if (params.size() >= 3 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
      std::string_view q = params.substr(2);
      if (q.find_first_not_of("0.") == std::string_view::npos) return false;
    }
    return true;
  }
  return false;
}

std::optional<std::string> gzip(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer. Level 4: most of the gain, a fraction of the
  // time of level 9 on JSON.
  if (deflateInit2(&zs, 4, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t written = out.size() - zs.avail_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(written);
  return out;
}

bool compressible(std::string_view ct) {
  return ct.rfind("application/json", 0) == 0 || ct.rfind("text/", 0) == 0 ||
         ct.rfind("application/javascript", 0) == 0 || ct.rfind("image/svg+xml", 0) == 0;
}

}  // namespace tend::http
