#include "http/address.hpp"

#include <boost/asio/io_context.hpp>

#include "http/text.hpp"

namespace tend::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string HostPort::to_string() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

Expected<HostPort> parse_host_port(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error::with_detail("address",
                              "expected HOST:PORT, got \"" + std::string(text) + "\": " + why);
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos)
    return bad("an IPv6 address needs brackets, as in [::1]:8600");
  if (host.empty()) return bad("no host");
  auto port = parse_uint(text.substr(colon + 1), 65535);
  if (!port) return bad("the port must be a number from 0 to 65535");
  return HostPort{std::string(host), static_cast<uint16_t>(*port)};
}

Expected<Url> parse_url(std::string_view text) {
  Url url;
  std::string_view rest = text;
  if (rest.rfind("https://", 0) == 0) {
    url.tls = true;
    rest.remove_prefix(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return Error::with_detail("address", "\"" + std::string(text) + "\": only http:// is spoken");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    url.path_prefix = std::string(rest.substr(slash));
    while (!url.path_prefix.empty() && url.path_prefix.back() == '/') url.path_prefix.pop_back();
  }
  // A URL may leave the port out.
  bool has_port = !authority.empty() && authority.back() != ']' &&
                  authority.find(':') != std::string_view::npos;
  std::string with_port =
      has_port ? std::string(authority) : std::string(authority) + (url.tls ? ":443" : ":80");
  auto hp = parse_host_port(with_port);
  if (!hp) return hp.error();
  url.where = *hp;
  return url;
}

Expected<std::vector<tcp::endpoint>> resolve(const HostPort& hp) {
  boost::system::error_code ec;
  auto literal = asio::ip::make_address(hp.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(literal, hp.port)};
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec || results.empty())
    return Error::with_detail("resolve", "cannot resolve \"" + hp.host + "\": " + ec.message());
  std::vector<tcp::endpoint> out;
  for (const auto& r : results) out.push_back(r.endpoint());
  return out;
}

bool all_loopback(const std::vector<tcp::endpoint>& endpoints) {
  if (endpoints.empty()) return false;
  for (const auto& e : endpoints) {
    auto a = e.address();
    // An IPv4-mapped IPv6 loopback (::ffff:127.0.0.1) is loopback too.
    if (a.is_v6() && a.to_v6().is_v4_mapped())
      a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    if (!a.is_loopback()) return false;
  }
  return true;
}

}  // namespace tend::http
