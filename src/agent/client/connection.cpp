#include "client/connection.hpp"

#include <cstdio>
#include <cstdlib>

#include "http/auth.hpp"

namespace tend::agent {

void add_connection_options(CLI::App& app, Connection& c) {
  app.add_option("--addr", c.addr,
                 "agent address HOST:PORT or URL (default $TEND_ADDR or 127.0.0.1:8600)");
  app.add_option("--token", c.token, "API token (default $TEND_TOKEN or ./tend-data/token)");
}

std::optional<int> parse_client(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), e.what());
    return kToolFailed;
  }
  return std::nullopt;
}

std::optional<http::Client> open_client(Connection& c, const char* cmd,
                                        boost::asio::any_io_executor ex) {
  if (c.addr.empty())
    c.addr = std::getenv("TEND_ADDR") ? std::getenv("TEND_ADDR") : "127.0.0.1:8600";
  auto url = http::parse_url(c.addr);
  if (!url) {
    std::fprintf(stderr, "tend %s: --addr: %s\n", cmd, url.error().detail.c_str());
    return std::nullopt;
  }
  if (c.token.empty() && std::getenv("TEND_TOKEN")) c.token = std::getenv("TEND_TOKEN");
  if (c.token.empty()) {
    auto t = http::read_token("./tend-data/token");
    if (!t) {
      std::fprintf(stderr,
                   "tend %s: no token: pass --token, set TEND_TOKEN, or run where "
                   "./tend-data/token is (%s)\n",
                   cmd, t.error().message().c_str());
      return std::nullopt;
    }
    c.token = *t;
  }
  http::ClientOptions opts;
  opts.token = c.token;
  return http::Client(std::move(ex), *url, opts);
}

bool split_kv(const std::string& s, char sep, std::string& k, std::string& v) {
  auto pos = s.find(sep);
  if (pos == std::string::npos || pos == 0) return false;
  k = s.substr(0, pos);
  v = s.substr(pos + 1);
  return true;
}

}  // namespace tend::agent
