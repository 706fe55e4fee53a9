// An HTTP/1.1 server on one io_context: a coroutine per connection, no thread per client.
//
// Every read has a deadline (the whole request head, each body, the idle time between requests),
// every head and body a size limit, the listener a connection cap. A client that breaks a limit
// gets the status that names it (431, 413, 400, 503) and is disconnected; a slow one is closed.
// Pipelined requests are answered in order. A stream (Exchange::start_stream) is the last answer
// on its connection, and a client that hangs up during one is noticed at once (Exchange::closed).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/message.hpp"
#include "http/router.hpp"
#include "tend/error.hpp"

namespace tend::http {

using namespace std::chrono_literals;

struct ServerLimits {
  size_t header_bytes = 16 * 1024;  // request line + every field: beyond it, 431
  size_t header_fields = 100;       // fields: beyond it, 431
  size_t body_bytes = 1 << 20;      // beyond it, 413 (at once when Content-Length says so)
  std::chrono::milliseconds head_timeout = 10s;   // first byte to end of the head
  std::chrono::milliseconds body_timeout = 30s;   // the whole body
  std::chrono::milliseconds idle_timeout = 60s;   // a kept-alive connection between requests
  std::chrono::milliseconds write_timeout = 30s;  // each write to the client
  size_t max_connections = 4096;                  // beyond it: a 503 and close
  std::chrono::milliseconds shutdown_grace = 2s;  // for requests in flight when stop() is called
};

// Live figures, for /metrics.
struct ServerStats {
  uint64_t connections_open = 0;
  uint64_t streams_open = 0;
  uint64_t connections_total = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t slow_clients_closed = 0;  // a head, body or write deadline passed
  uint64_t requests_total = 0;
  uint64_t requests_refused = 0;  // 4xx for the request's form: limits, encoding, framing
};

class Server;
struct Connection;

// One request being answered by a StreamHandler.
class Exchange {
 public:
  Request& request() { return req_; }
  // Answers with one response instead of a stream (an error found before streaming).
  boost::asio::awaitable<void> reply(Response res);
  // Sends the head of a streamed answer: chunked, or with `length` bytes exactly. False if the
  // client is gone.
  boost::asio::awaitable<bool> start_stream(Response head,
                                            std::optional<uint64_t> length = std::nullopt);
  // Sends a piece of the body (bounded by the write deadline). False if the client is gone.
  boost::asio::awaitable<bool> send(std::string_view piece);
  // Ends a started stream as broken (its source failed midway): closes the connection without
  // the chunked body's last chunk (or short of its length), so the client sees it cut short
  // rather than complete.
  void abort();
  // Completes when the client has hung up or the server is stopping. Meant to be raced against
  // a wait for more data (asio's awaitable operators): it is cancellable.
  boost::asio::awaitable<void> closed();
  bool open() const;

 private:
  friend class Server;
  Exchange(Server& s, std::shared_ptr<Connection> c, Request& req)
      : server_(s), conn_(std::move(c)), req_(req) {}
  Server& server_;
  std::shared_ptr<Connection> conn_;
  Request& req_;
  bool started_ = false;
  bool chunked_ = false;
  bool replied_ = false;
};

class Server {
 public:
  Server(boost::asio::io_context& ioc, Router router, ServerLimits limits);
  ~Server();

  // Binds and listens with a backlog of SOMAXCONN. SO_REUSEADDR only, never SO_REUSEPORT: a port
  // another process listens on is an error ("address already in use"). Returns where it listens.
  Expected<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& at);
  // Starts accepting connections (on the io_context).
  void start();
  // Stops (call on the io_context's thread): closes the listener, idle connections and streams
  // now, lets requests in flight finish for at most shutdown_grace, then closes the rest. `done`
  // runs once no connection is left.
  void stop(std::function<void()> done);
  bool stopping() const { return stopping_; }
  ServerStats stats() const { return stats_; }
  const ServerLimits& limits() const { return limits_; }

 private:
  friend class Exchange;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> session(std::shared_ptr<Connection> c);
  // Answers one request; false if the connection must close after it.
  boost::asio::awaitable<bool> dispatch(std::shared_ptr<Connection> c, Request& req);
  boost::asio::awaitable<bool> write(Connection& c, const Request* req, Response res);
  boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket s);
  boost::asio::awaitable<void> linger(Connection& c);
  void finalize(const Request* req, Response& res) const;
  void forget(Connection* c);

  boost::asio::io_context& ioc_;
  Router router_;
  ServerLimits limits_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer grace_;
  std::unordered_set<Connection*> conns_;
  ServerStats stats_;
  int refusing_ = 0;
  bool stopping_ = false;
  std::function<void()> done_;
};

}  // namespace tend::http
