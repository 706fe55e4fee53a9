// What every client command shares: the agent's address and token, and the HTTP client.
#pragma once

#include <chrono>
#include <optional>
#include <string>

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

// Fills the defaults and makes the client; nullopt (after one line on stderr) if there is no
// usable address or token. With several addresses ("a:8700,b:8700"), the client of the first
// that answers.
boost::asio::awaitable<std::optional<http::Client>> open_client(Connection& c, const char* cmd,
                                                                boost::asio::any_io_executor ex);
// Splits "KEY=VALUE"; false for a missing '=' or an empty key.
bool split_kv(const std::string& s, char sep, std::string& k, std::string& v);

}  // namespace tend::agent
