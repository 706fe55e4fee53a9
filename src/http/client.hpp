// An HTTP/1.1 client on Asio coroutines, with a deadline on every step: connect, each request,
// each wait for more of a stream. One connection, kept alive and re-opened when the server has
// closed it. https:// URLs need a TLS context in the options: the server's certificate is
// verified against it and must name the URL's host (DNS name or IP address). Command-line
// clients run it with run_blocking().
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/fields.hpp>

#include "http/address.hpp"
#include "http/message.hpp"
#include "http/tls.hpp"
#include "tend/error.hpp"

namespace tend::http {

using namespace std::chrono_literals;

struct ClientOptions {
  std::string token;                                // sent as "Authorization: Bearer TOKEN"
  std::chrono::milliseconds connect_timeout = 5s;   // resolving, connecting, the TLS handshake
  std::chrono::milliseconds request_timeout = 60s;  // one whole request() exchange
  TlsContext tls;                                   // for https:// (make_client_tls)
};

struct ClientResponse {
  unsigned status = 0;
  beast_http::fields headers;
  std::string body;
  // The error object of a JSON error body as one line ("field: message (HTTP 400)"), or
  // "HTTP 400" when the body is not one.
  std::string describe() const;
};

class Client {
 public:
  Client(boost::asio::any_io_executor ex, Url url, ClientOptions opts);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // One request and its whole response (Error: the server could not be reached or answered
  // nothing in time; any HTTP status is a response).
  boost::asio::awaitable<Expected<ClientResponse>> request(
      Verb verb, std::string target, std::string body = {},
      std::string content_type = "application/json");
  // The same, bounded by `timeout` instead of the options' request_timeout (connecting included:
  // the connect wait is the smaller of the two). For callers with a deadline per call.
  boost::asio::awaitable<Expected<ClientResponse>> request_within(
      std::chrono::milliseconds timeout, Verb verb, std::string target, std::string body = {},
      std::string content_type = "application/json");
  // GET `target`, handing each piece of a 2xx body to `on_data` as it arrives (return false to
  // stop). `idle` bounds each wait for the next piece. Other statuses: the body is collected in
  // the response instead.
  boost::asio::awaitable<Expected<ClientResponse>> stream(
      std::string target, std::function<bool(std::string_view)> on_data,
      std::chrono::milliseconds idle);
  // The same with any method and a request body (a POST whose answer is a long stream, as
  // etcd's watch). `on_data` sees the raw bytes of the body, chunk framing removed.
  boost::asio::awaitable<Expected<ClientResponse>> stream(
      Verb verb, std::string target, std::string body,
      std::function<bool(std::string_view)> on_data, std::chrono::milliseconds idle);

  // The same for a consumer that is itself asynchronous (a proxy writing each piece to a client
  // of its own): `on_head` sees the status and headers of a 2xx answer before its body, `on_data`
  // each piece; either returning false ends the stream. Other statuses: collected as by stream().
  using AsyncHead = std::function<boost::asio::awaitable<bool>(const ClientResponse&)>;
  using AsyncData = std::function<boost::asio::awaitable<bool>(std::string_view)>;
  boost::asio::awaitable<Expected<ClientResponse>> relay(std::string target, AsyncHead on_head,
                                                         AsyncData on_data,
                                                         std::chrono::milliseconds idle);
  // Opens a new connection now (closing a kept-alive one), within `limit`. The next request()
  // goes out on it and is not re-sent when it fails: for a request that must not reach the
  // server twice (a submission), an error here means nothing was sent, one from that request
  // that it may have arrived.
  boost::asio::awaitable<Expected<void>> connect_now(std::chrono::milliseconds limit);
  // Closes the connection: a request or stream in progress ends at once with an error (for a
  // caller whose own client went away).
  void close();
  // The Authorization header of the next requests, sent as is (etcd's auth token has no
  // scheme); "" = the options' bearer token, if any.
  void set_authorization(std::string value) { authorization_ = std::move(value); }

  const Url& url() const { return url_; }

 private:
  struct Stream;  // one connection, TLS or not (client.cpp)

  boost::asio::awaitable<Expected<void>> connect(std::chrono::milliseconds limit);
  boost::asio::awaitable<Expected<void>> handshake();
  Error failure(const char* stage, const boost::system::error_code& ec) const;
  void expires_after(std::chrono::milliseconds d);
  boost::asio::awaitable<Expected<ClientResponse>> pump(Verb verb, std::string target,
                                                        std::string body, AsyncHead on_head,
                                                        AsyncData on_data,
                                                        std::chrono::milliseconds idle);
  beast_http::request<beast_http::string_body> make(Verb verb, const std::string& target,
                                                    std::string body,
                                                    const std::string& content_type) const;

  boost::asio::any_io_executor ex_;
  Url url_;
  ClientOptions opts_;
  std::string authorization_;
  std::unique_ptr<Stream> conn_;
  boost::beast::flat_buffer buf_;
};

// Runs `fn` to its end on a private io_context (for command-line clients) and returns its value.
template <class T, class Fn>
T run_blocking(Fn fn) {
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, fn(ioc.get_executor()), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

}  // namespace tend::http
