// What every client command shares: the agent's address and token, and the HTTP client.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "http/client.hpp"

namespace tend::agent {

inline constexpr int kToolFailed = 125;

struct Connection {
  std::string addr;
  std::string token;
};

void add_connection_options(CLI::App& app, Connection& c);
// Parses argv; the exit status if the command must end now (help: 0, bad option: 125).
std::optional<int> parse_client(CLI::App& app, int argc, char** argv);
// How long open_client() waits for each of several addresses before it tries the next.
inline constexpr std::chrono::milliseconds kProbeTimeout{2000};

// The addresses of a connection (--addr "a:8700,b:8700": the servers of a fleet, any of which
// serves the same API) and the options of a client to any of them.
struct Endpoints {
  std::vector<http::Url> urls;
  http::ClientOptions opts;
};
// Fills the defaults; nullopt (after one line on stderr) if there is no usable address or token.
std::optional<Endpoints> endpoints_of(Connection& c, const char* cmd);
// The first address that answers /healthz within kProbeTimeout; if none does, the last (not
// probed: the command reports its error). One address: not probed.
struct Chosen {
  size_t index;
  bool answered;  // it answered the probe
  http::Client client;
};
boost::asio::awaitable<Chosen> first_answering(const Endpoints& e, boost::asio::any_io_executor ex);

// endpoints_of(), then the client of first_answering().
boost::asio::awaitable<std::optional<http::Client>> open_client(Connection& c, const char* cmd,
                                                                boost::asio::any_io_executor ex);
// Splits "KEY=VALUE"; false for a missing '=' or an empty key.
bool split_kv(const std::string& s, char sep, std::string& k, std::string& v);

}  // namespace tend::agent
