#include "http/client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace tend::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kChunk = 64 * 1024;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// A plain or a TLS connection: every HTTP step is written once, for whichever it is.
struct Client::Stream {
  std::variant<beast::tcp_stream, TlsStream> s;
  // An exchange completed on it: a failure at once on the next is taken for a connection the
  // server closed meanwhile, and that request is sent again once on a new one.
  bool used = false;

  template <class F>
  decltype(auto) with(F&& f) {
    return std::visit(std::forward<F>(f), s);
  }
  beast::tcp_stream& tcp() {
    return with([](auto& x) -> beast::tcp_stream& { return beast::get_lowest_layer(x); });
  }
};

std::string ClientResponse::describe() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string http = "HTTP " + std::to_string(status);
  if (j.is_discarded() || !j.is_object() || !j.contains("error") || !j["error"].is_object())
    return http;
  const auto& e = j["error"];
  std::string field =
      e.contains("field") && e["field"].is_string() ? e["field"].get<std::string>() : "";
  std::string msg = e.contains("message") && e["message"].is_string()
                        ? e["message"].get<std::string>()
                        : std::string("error");
  return (field.empty() ? "" : field + ": ") + msg + " (" + http + ")";
}

Client::Client(asio::any_io_executor ex, Url url, ClientOptions opts)
    : ex_(std::move(ex)), url_(std::move(url)), opts_(std::move(opts)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Error Client::failure(const char* stage, const boost::system::error_code& ec) const {
  std::string why = ec == beast::error::timeout ? "no answer in time" : ec.message();
  return Error{stage, ec.value(), url_.where.to_string(),
               "cannot reach " + url_.where.to_string() + ": " + why};
}

void Client::expires_after(std::chrono::milliseconds d) {
  conn_->tcp().expires_after(d);
}

asio::awaitable<Expected<void>> Client::connect(std::chrono::milliseconds limit) {
  conn_.reset();
  buf_.clear();
  if (url_.tls && !opts_.tls)
    co_return Error::with_detail(
        "connect", url_.where.to_string() + ": https:// needs TLS settings (a CA to trust)");
  auto eps = resolve(url_.where);
  if (!eps) co_return eps.error();
  if (url_.tls)
    conn_.reset(new Stream{
        std::variant<beast::tcp_stream, TlsStream>(std::in_place_index<1>, ex_, *opts_.tls)});
  else
    conn_.reset(
        new Stream{std::variant<beast::tcp_stream, TlsStream>(std::in_place_index<0>, ex_)});
  conn_->tcp().expires_after(std::min(opts_.connect_timeout, limit));
  auto [ec, ep] = co_await conn_->tcp().async_connect(*eps, kTuple);
  if (ec) {
    conn_.reset();
    co_return failure("connect", ec);
  }
  beast::error_code ignored;
  conn_->tcp().socket().set_option(tcp::no_delay(true), ignored);
  if (url_.tls) {
    if (auto r = co_await handshake(); !r) {
      conn_.reset();
      co_return r.error();
    }
  }
  co_return Expected<void>{};
}

// The TLS handshake, within what is left of the connect deadline. The server's certificate must
// chain to the context's CAs and name the host: its IP address (IP SAN) when the URL has one, its
// DNS name otherwise (OpenSSL checks both during the handshake; SNI is sent for names).
asio::awaitable<Expected<void>> Client::handshake() {
  auto& tls = std::get<TlsStream>(conn_->s);
  SSL* ssl = tls.native_handle();
  const std::string& host = url_.where.host;
  boost::system::error_code not_ip;
  (void)asio::ip::make_address(host, not_ip);
  X509_VERIFY_PARAM* param = ::SSL_get0_param(ssl);
  bool set = not_ip ? ::SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
                          ::X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1
                    : ::X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  if (!set) co_return Error::with_detail("TLS", "cannot set the name to verify: \"" + host + "\"");
  auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (!ec) co_return Expected<void>{};
  const std::string failed = "handshake with " + url_.where.to_string() + " failed: ";
  long verdict = ::SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK)
    co_return Error::with_detail("TLS",
                                 failed + "the server's certificate is not trusted (" +
                                     ::X509_verify_cert_error_string(verdict) + ")",
                                 ErrorKind::untrusted);
  co_return Error::with_detail(
      "TLS", failed + (ec == beast::error::timeout ? "no answer in time" : ec.message()));
}

beast_http::request<beast_http::string_body> Client::make(Verb verb, const std::string& target,
                                                          std::string body,
                                                          const std::string& content_type) const {
  beast_http::request<beast_http::string_body> req{verb, url_.path_prefix + target, 11};
  req.set(beast_http::field::host, url_.where.to_string());
  req.set(beast_http::field::user_agent, "tend");
  if (!authorization_.empty())
    req.set(beast_http::field::authorization, authorization_);
  else if (!opts_.token.empty())
    req.set(beast_http::field::authorization, "Bearer " + opts_.token);
  if (!body.empty() || verb == Verb::post || verb == Verb::put) {
    req.set(beast_http::field::content_type, content_type);
    req.body() = std::move(body);
  }
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

asio::awaitable<Expected<ClientResponse>> Client::request(Verb verb, std::string target,
                                                          std::string body,
                                                          std::string content_type) {
  co_return co_await request_within(opts_.request_timeout, verb, std::move(target), std::move(body),
                                    std::move(content_type));
}

asio::awaitable<Expected<ClientResponse>> Client::request_within(std::chrono::milliseconds timeout,
                                                                 Verb verb, std::string target,
                                                                 std::string body,
                                                                 std::string content_type) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  auto req = make(verb, target, std::move(body), content_type);
  // A kept-alive connection the server has meanwhile closed fails at once; one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = conn_ && conn_->used;
    if (!conn_) {
      if (auto r = co_await connect(left()); !r) co_return r.error();
    }
    expires_after(left());
    auto [wec, wn] =
        co_await conn_->with([&](auto& s) { return beast_http::async_write(s, req, kTuple); });
    beast_http::response_parser<beast_http::string_body> parser;
    parser.body_limit(64ull << 20);
    beast::error_code ec = wec;
    if (!ec)
      std::tie(ec, std::ignore) = co_await conn_->with(
          [&](auto& s) { return beast_http::async_read(s, buf_, parser, kTuple); });
    if (ec) {
      conn_.reset();
      bool stale = reused &&
                   (ec == beast_http::error::end_of_stream || ec == asio::error::connection_reset ||
                    ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated);
      if (stale) continue;
      co_return failure("request", ec);
    }
    auto res = parser.release();
    conn_->used = true;
    if (!res.keep_alive()) conn_.reset();
    ClientResponse out{res.result_int(), res.base(), std::move(res.body())};
    co_return out;
  }
  co_return Error::with_detail("request",
                               "the connection to " + url_.where.to_string() + " kept closing");
}

asio::awaitable<Expected<ClientResponse>> Client::stream(
    std::string target, std::function<bool(std::string_view)> on_data,
    std::chrono::milliseconds idle) {
  std::string no_body;  // named: a braced temporary passed to a coroutine trips GCC 12
  co_return co_await stream(Verb::get, std::move(target), std::move(no_body), std::move(on_data),
                            idle);
}

asio::awaitable<Expected<ClientResponse>> Client::stream(
    Verb verb, std::string target, std::string body, std::function<bool(std::string_view)> on_data,
    std::chrono::milliseconds idle) {
  AsyncHead head = [](const ClientResponse&) -> asio::awaitable<bool> { co_return true; };
  AsyncData data = [&on_data](std::string_view piece) -> asio::awaitable<bool> {
    co_return on_data(piece);
  };
  co_return co_await pump(verb, std::move(target), std::move(body), std::move(head),
                          std::move(data), idle);
}

asio::awaitable<Expected<ClientResponse>> Client::relay(std::string target, AsyncHead on_head,
                                                        AsyncData on_data,
                                                        std::chrono::milliseconds idle) {
  std::string no_body;
  co_return co_await pump(Verb::get, std::move(target), std::move(no_body), std::move(on_head),
                          std::move(on_data), idle);
}

asio::awaitable<Expected<void>> Client::connect_now(std::chrono::milliseconds limit) {
  co_return co_await connect(limit);
}

void Client::close() {
  if (conn_) {
    beast::error_code ignored;
    conn_->tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn_->tcp().socket().close(ignored);
  }
}

asio::awaitable<Expected<ClientResponse>> Client::pump(Verb verb, std::string target,
                                                       std::string body, AsyncHead on_head,
                                                       AsyncData on_data,
                                                       std::chrono::milliseconds idle) {
  // A stream gets a connection of its own: it ends with the response.
  if (auto r = co_await connect(opts_.connect_timeout); !r) co_return r.error();
  auto req = make(verb, target, std::move(body), "application/json");
  req.keep_alive(false);
  expires_after(opts_.request_timeout);
  auto [wec, wn] =
      co_await conn_->with([&](auto& s) { return beast_http::async_write(s, req, kTuple); });
  if (wec) {
    conn_.reset();
    co_return failure("request", wec);
  }
  beast_http::response_parser<beast_http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [hec, hn] = co_await conn_->with(
      [&](auto& s) { return beast_http::async_read_header(s, buf_, parser, kTuple); });
  if (hec) {
    conn_.reset();
    co_return failure("request", hec);
  }
  ClientResponse out{parser.get().result_int(), parser.get().base(), {}};
  bool ok = out.status / 100 == 2;
  if (ok && !co_await on_head(out)) {
    conn_.reset();
    co_return out;
  }
  auto chunk = std::make_unique<char[]>(kChunk);
  while (conn_ && !parser.is_done()) {
    parser.get().body().data = chunk.get();
    parser.get().body().size = kChunk;
    expires_after(ok ? idle : opts_.request_timeout);
    auto [ec, n] = co_await conn_->with(
        [&](auto& s) { return beast_http::async_read_some(s, buf_, parser, kTuple); });
    if (ec == beast_http::error::need_buffer) ec = {};
    size_t got = kChunk - parser.get().body().size;
    if (got > 0) {
      if (!ok) {
        if (out.body.size() < (1u << 20)) out.body.append(chunk.get(), got);
      } else if (!co_await on_data(std::string_view(chunk.get(), got))) {
        break;
      }
    }
    if (ec) {
      conn_.reset();
      co_return failure("read", ec);
    }
  }
  conn_.reset();
  co_return out;
}

}  // namespace tend::http
