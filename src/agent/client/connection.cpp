#include "client/connection.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "http/auth.hpp"

namespace tend::agent {

void add_connection_options(CLI::App& app, Connection& c) {
  app.add_option("--addr", c.addr,
                 "agent or server address HOST:PORT or URL; several, comma-separated: the first "
                 "that answers (default $TEND_ADDR or 127.0.0.1:8600)");
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

namespace {

std::vector<std::string> split_addresses(const std::string& text) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::optional<Endpoints> endpoints_of(Connection& c, const char* cmd) {
  if (c.addr.empty())
    c.addr = std::getenv("TEND_ADDR") ? std::getenv("TEND_ADDR") : "127.0.0.1:8600";
  Endpoints e;
  for (const auto& one : split_addresses(c.addr)) {
    auto url = http::parse_url(one);
    if (!url) {
      std::fprintf(stderr, "tend %s: --addr: %s\n", cmd, url.error().detail.c_str());
      return std::nullopt;
    }
    e.urls.push_back(*url);
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
  e.opts.token = c.token;
  return e;
}

boost::asio::awaitable<Chosen> first_answering(const Endpoints& e,
                                               boost::asio::any_io_executor ex) {
  for (size_t i = 0; i + 1 < e.urls.size(); ++i) {
    http::Client cli(ex, e.urls[i], e.opts);
    auto r = co_await cli.request_within(kProbeTimeout, http::Verb::get, "/healthz");
    if (r && r->status == 200) co_return Chosen{i, true, std::move(cli)};
  }
  co_return Chosen{e.urls.size() - 1, false, http::Client(std::move(ex), e.urls.back(), e.opts)};
}

boost::asio::awaitable<std::optional<http::Client>> open_client(Connection& c, const char* cmd,
                                                                boost::asio::any_io_executor ex) {
  auto e = endpoints_of(c, cmd);
  if (!e) co_return std::nullopt;
  auto chosen = co_await first_answering(*e, std::move(ex));
  co_return std::move(chosen.client);
}

bool split_kv(const std::string& s, char sep, std::string& k, std::string& v) {
  auto pos = s.find(sep);
  if (pos == std::string::npos || pos == 0) return false;
  k = s.substr(0, pos);
  v = s.substr(pos + 1);
  return true;
}

}  // namespace tend::agent
