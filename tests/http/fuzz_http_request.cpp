// libFuzzer: arbitrary bytes as a request head through Beast's parser with the server's
// limits, then our decoding of the target (percent-encoding, UTF-8, query). Nothing may crash,
// and a target we accept must decode to valid UTF-8.
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>

#include "http/message.hpp"
#include "http/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> p;
  p.header_limit(16 * 1024);
  p.body_limit(1 << 20);
  p.eager(true);
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(data, size), ec);
  if (ec || !p.is_header_done()) return 0;
  tend::http::Request req(p.release());
  if (req.ok()) {
    if (!tend::http::valid_utf8(req.path())) __builtin_trap();
    for (const auto& s : req.segments())
      if (!tend::http::valid_utf8(s)) __builtin_trap();
  }
  (void)tend::http::percent_decode(std::string_view(reinterpret_cast<const char*>(data), size),
                                   true);
  return 0;
}
