// Routes: a method and a path pattern to a handler. "{}" in a pattern matches one path segment
// (its decoded value becomes a parameter); a final "*" matches the rest of the path.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/message.hpp"

namespace tend::http {

class Exchange;

// Answers a request with one response, at once.
using Handler = std::function<Response(const Request&)>;
// Answers a request over time (a stream): the coroutine writes through the Exchange.
using StreamHandler = std::function<boost::asio::awaitable<void>(Exchange&)>;

class Router {
 public:
  void add(Verb verb, std::string pattern, Handler h);
  void add_stream(Verb verb, std::string pattern, StreamHandler h);
  // Runs before routing on every request that matched a route: a response to send instead (a
  // refusal), or nullopt to go on. Routes added with `open = true` skip it.
  void set_guard(std::function<std::optional<Response>(const Request&)> guard) {
    guard_ = std::move(guard);
  }
  void add_open(Verb verb, std::string pattern, Handler h);
  void add_open_stream(Verb verb, std::string pattern, StreamHandler h);

  struct Match {
    const Handler* handler = nullptr;
    const StreamHandler* stream = nullptr;
    std::optional<Response> refusal;  // 404, 405 or the guard's answer
  };
  // Finds the route for `req` and sets its parameters. HEAD is routed as GET.
  Match match(Request& req) const;

 private:
  struct Route {
    Verb verb;
    std::vector<std::string> pattern;  // segments; "{}" and a final "*" are wildcards
    bool open = false;
    Handler handler;
    StreamHandler stream;
  };
  void add_route(Route r, const std::string& pattern);
  static bool matches(const Route& r, const std::vector<std::string>& segs,
                      std::vector<std::string>& params);

  std::vector<Route> routes_;
  std::function<std::optional<Response>(const Request&)> guard_;
};

}  // namespace tend::http
