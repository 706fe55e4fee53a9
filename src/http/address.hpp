// Addresses on the command line: "HOST:PORT" to listen on or connect to, and base URLs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "tend/error.hpp"

namespace tend::http {

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
  // "host:port", "[v6]:port": for URLs and messages.
  std::string to_string() const;
};

// "127.0.0.1:8600", "[::1]:0", "localhost:80". The error says what is wrong, for the user.
Expected<HostPort> parse_host_port(std::string_view text);

// A base URL a client talks to: "http://HOST:PORT" (a path prefix is kept), or a bare
// "HOST:PORT". https is recognised so that the error can say it is not supported here.
struct Url {
  bool tls = false;
  HostPort where;
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)
};
Expected<Url> parse_url(std::string_view text);

// Resolves `hp.host` (a literal or a name) to its addresses, numerically when it is a literal.
Expected<std::vector<boost::asio::ip::tcp::endpoint>> resolve(const HostPort& hp);

// True when every address is a loopback one: decided on resolved addresses, never on text
// ("127.evil.example" is a name like any other).
bool all_loopback(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints);

}  // namespace tend::http
