// For the commands that outlive the server they talk to (`tend submit --wait`, `tend logs`): the
// servers of --addr and the client of the one in use. When that one fails (no answer, or a 5xx),
// recover() moves to the next that answers /healthz, for at most --reconnect-for since the last
// answer; with one address it waits for that one (an agent's restart). Only once a server has
// answered: a list where none ever did is an error at once (a wrong --addr does not wait).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "client/connection.hpp"

namespace tend::agent {

// How long a command keeps trying when no server answers, by default.
inline constexpr std::chrono::milliseconds kReconnectFor{60000};

// --reconnect-for DURATION on `app` (the text is checked by reconnect_for()).
void add_reconnect_option(CLI::App& app, std::string& text);
// The duration of --reconnect-for ("" = kReconnectFor); nullopt, after one line on stderr, if
// it is not a duration of at least 1 ms.
std::optional<std::chrono::milliseconds> reconnect_for(const std::string& text, const char* cmd);

class Failover {
 public:
  // `chosen`: the server to start with (first_answering()).
  Failover(Endpoints e, Chosen chosen, std::chrono::milliseconds limit, const char* cmd,
           boost::asio::any_io_executor ex);

  http::Client& client() { return client_; }
  // "host:port" of the server in use, and of every server of the list ("a, b").
  std::string where() const;
  std::string all() const;
  // Why recover() gave up, for the message: "no server answered for 1m (a, b)".
  std::string gave_up() const;

  // The server in use answered (anything but a 5xx): the next failure starts a new wait.
  void answered();
  // The server in use failed (`why`: for the message). Probes the list from the next server on
  // (the failed one last), pausing between rounds (100 ms, doubling to 1 s); says on stderr
  // which server it moves to. False once `limit` has passed since the first failure after the
  // last answer (nothing answers), and at once if no server has answered yet.
  boost::asio::awaitable<bool> recover(const std::string& why);
  // GET `target` on the server in use, recovering after no answer or a 5xx: the first answer
  // that is neither, or the last failure once recover() gives up.
  boost::asio::awaitable<Expected<http::ClientResponse>> get(std::string target,
                                                             std::chrono::milliseconds timeout);

 private:
  Endpoints endpoints_;
  size_t current_;
  http::Client client_;
  std::chrono::milliseconds limit_;
  const char* cmd_;
  boost::asio::any_io_executor ex_;
  bool contacted_;  // a server of the list answered once
  std::optional<std::chrono::steady_clock::time_point> failing_since_;
  std::chrono::milliseconds pause_{100};
};

// endpoints_of() and first_answering() (as open_client()), kept for recovering later.
boost::asio::awaitable<std::optional<Failover>> open_failover(Connection& c, const char* cmd,
                                                              std::chrono::milliseconds limit,
                                                              boost::asio::any_io_executor ex);

// Why a request failed, in one line: its error, or the answer's.
std::string why_failed(const Expected<http::ClientResponse>& r);

}  // namespace tend::agent
