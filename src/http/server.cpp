#include "http/server.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdio>

#include "http/gzip.hpp"

namespace tend::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// One client connection. Lives as long as its session coroutine (which holds it).
struct Connection {
  enum class State { idle, busy, streaming };
  explicit Connection(tcp::socket s) : stream(std::move(s)) {}
  void close() {
    if (closed) return;
    closed = true;
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  }
  beast::tcp_stream stream;
  State state = State::idle;
  bool closed = false;
};

namespace {

constexpr size_t kMinCompressed = 1024;  // smaller bodies go out as they are
constexpr int kMaxRefusing = 64;         // canned 503s being written at once; beyond: close

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == beast_http::make_error_code(beast_http::error::end_of_stream).category();
}

}  // namespace

// --- Exchange ---------------------------------------------------------------------------------

bool Exchange::open() const {
  return !conn_->closed && !server_.stopping_;
}

asio::awaitable<void> Exchange::reply(Response res) {
  if (started_ || replied_) co_return;
  replied_ = true;
  co_await server_.write(*conn_, &req_, std::move(res));
}

asio::awaitable<bool> Exchange::start_stream(Response res, std::optional<uint64_t> length) {
  if (started_ || replied_ || conn_->closed) co_return false;
  started_ = true;
  chunked_ = !length;
  beast_http::response<beast_http::empty_body> head{res.result(), 11};
  head.base() = res.base();
  head.keep_alive(false);  // a stream is the connection's last answer
  head.set("X-Content-Type-Options", "nosniff");
  if (length)
    head.content_length(*length);
  else
    head.chunked(true);
  beast_http::response_serializer<beast_http::empty_body> sr(head);
  conn_->stream.expires_after(server_.limits_.write_timeout);
  auto [ec, n] = co_await beast_http::async_write_header(conn_->stream, sr, kTuple);
  if (ec) conn_->close();
  co_return !ec;
}

asio::awaitable<bool> Exchange::send(std::string_view piece) {
  if (!started_ || conn_->closed) co_return false;
  if (piece.empty()) co_return true;  // an empty chunk would end the stream
  conn_->stream.expires_after(server_.limits_.write_timeout);
  beast::error_code ec;
  if (chunked_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(
        conn_->stream, beast_http::make_chunk(asio::buffer(piece.data(), piece.size())), kTuple);
  } else {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(conn_->stream, asio::buffer(piece.data(), piece.size()), kTuple);
  }
  if (ec) {
    if (ec == beast::error::timeout) ++server_.stats_.slow_clients_closed;
    conn_->close();
  }
  co_return !ec;
}

void Exchange::abort() {
  conn_->close();
}

asio::awaitable<void> Exchange::closed() {
  auto& sock = conn_->stream.socket();
  while (open()) {
    auto [ec] = co_await sock.async_wait(tcp::socket::wait_read, kTuple);
    if (ec) co_return;  // closed by stop(), or cancelled by the caller's race
    char buf[1024];
    ssize_t n = ::recv(sock.native_handle(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      conn_->close();
      co_return;
    }
    // Bytes during a stream (a pipelined request) are dropped: the stream is the last answer.
  }
}

// --- Server -----------------------------------------------------------------------------------

Server::Server(asio::io_context& ioc, Router router, ServerLimits limits)
    : ioc_(ioc), router_(std::move(router)), limits_(limits), acceptor_(ioc), grace_(ioc) {}

Server::~Server() = default;

Expected<tcp::endpoint> Server::listen(const tcp::endpoint& at) {
  beast::error_code ec;
  auto fail = [&](const char* stage) {
    return Error{stage, ec.value(), at.address().to_string() + ":" + std::to_string(at.port()),
                 ec.message()};
  };
  if (acceptor_.open(at.protocol(), ec); ec) return fail("socket");
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec)
    return fail("setsockopt");
  if (acceptor_.bind(at, ec); ec) return fail("bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  auto local = acceptor_.local_endpoint(ec);
  if (ec) return fail("getsockname");
  return local;
}

void Server::start() {
  asio::co_spawn(ioc_, accept_loop(), asio::detached);
}

void Server::stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  done_ = std::move(done);
  beast::error_code ec;
  acceptor_.close(ec);
  for (Connection* c : conns_)
    if (c->state != Connection::State::busy) c->close();
  if (conns_.empty()) {
    if (done_) std::exchange(done_, nullptr)();
    return;
  }
  grace_.expires_after(limits_.shutdown_grace);
  grace_.async_wait([this](beast::error_code e) {
    if (e) return;
    for (Connection* c : conns_) c->close();
  });
}

void Server::forget(Connection* c) {
  conns_.erase(c);
  stats_.connections_open = conns_.size();
  if (stopping_ && conns_.empty()) {
    grace_.cancel();
    if (done_) std::exchange(done_, nullptr)();
  }
}

asio::awaitable<void> Server::accept_loop() {
  asio::steady_timer pause(ioc_);
  while (!stopping_) {
    auto [ec, sock] = co_await acceptor_.async_accept(kTuple);
    if (stopping_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of fds (EMFILE/ENFILE) or memory: wait a little instead of spinning on the error.
      std::fprintf(stderr, "http: accept: %s\n", ec.message().c_str());
      pause.expires_after(100ms);
      co_await pause.async_wait(kTuple);
      continue;
    }
    ++stats_.connections_total;
    if (conns_.size() >= limits_.max_connections) {
      ++stats_.connections_refused;
      if (refusing_ < kMaxRefusing) asio::co_spawn(ioc_, refuse(std::move(sock)), asio::detached);
      continue;  // beyond that, the socket's destructor closes it
    }
    beast::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);  // small answers must not wait for an ACK
    auto c = std::make_shared<Connection>(std::move(sock));
    conns_.insert(c.get());
    stats_.connections_open = conns_.size();
    asio::co_spawn(ioc_, session(c), asio::detached);
  }
}

asio::awaitable<void> Server::refuse(tcp::socket s) {
  ++refusing_;
  Connection c(std::move(s));
  auto res = error_response(
      Status::service_unavailable, "",
      "too many connections (" + std::to_string(limits_.max_connections) + " open); retry later");
  res.keep_alive(false);
  res.set(beast_http::field::retry_after, "1");
  c.stream.expires_after(1s);
  co_await beast_http::async_write(c.stream, res, kTuple);
  c.close();
  --refusing_;
}

asio::awaitable<void> Server::session(std::shared_ptr<Connection> c) {
  beast::flat_buffer buf;
  for (;;) {
    c->state = Connection::State::idle;
    if (stopping_ || c->closed) break;
    if (buf.size() == 0) {
      // Between requests only the idle timeout applies; the head's deadline starts at its
      // first byte.
      c->stream.expires_after(limits_.idle_timeout);
      auto [ec, n] = co_await c->stream.async_read_some(buf.prepare(4096), kTuple);
      if (ec) break;
      buf.commit(n);
    }
    c->state = Connection::State::busy;
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
    parser.body_limit(limits_.body_bytes);
    c->stream.expires_after(limits_.head_timeout);
    auto [ec, n] = co_await beast_http::async_read_header(c->stream, buf, parser, kTuple);
    if (!ec && std::distance(parser.get().begin(), parser.get().end()) >
                   static_cast<std::ptrdiff_t>(limits_.header_fields))
      ec = beast_http::error::header_limit;
    if (ec) {
      std::optional<Response> res;
      if (ec == beast_http::error::header_limit)
        res = error_response(Status::request_header_fields_too_large, "",
                             "the request head is larger than " +
                                 std::to_string(limits_.header_bytes) + " bytes or has more than " +
                                 std::to_string(limits_.header_fields) + " fields");
      else if (ec == beast_http::error::body_limit)
        res = error_response(
            Status::payload_too_large, "body",
            "request body is larger than " + std::to_string(limits_.body_bytes) + " bytes");
      else if (ec == beast::error::timeout)
        ++stats_.slow_clients_closed;
      else if (is_http_parse_error(ec) && ec != beast_http::error::end_of_stream &&
               ec != beast_http::error::partial_message)
        res = error_response(Status::bad_request, "", "malformed request: " + ec.message());
      if (res) {
        ++stats_.requests_refused;
        co_await write(*c, nullptr, std::move(*res));
        co_await linger(*c);
      }
      break;
    }
    if (beast::iequals(parser.get()[beast_http::field::expect], "100-continue") &&
        !parser.is_done()) {
      beast_http::response<beast_http::empty_body> cont{Status::continue_, 11};
      c->stream.expires_after(limits_.write_timeout);
      auto [wec, wn] = co_await beast_http::async_write(c->stream, cont, kTuple);
      if (wec) break;
    }
    if (!parser.is_done()) {
      c->stream.expires_after(limits_.body_timeout);
      std::tie(ec, n) = co_await beast_http::async_read(c->stream, buf, parser, kTuple);
      if (ec) {
        if (ec == beast_http::error::body_limit) {
          ++stats_.requests_refused;
          co_await write(*c, nullptr,
                         error_response(Status::payload_too_large, "body",
                                        "request body is larger than " +
                                            std::to_string(limits_.body_bytes) + " bytes"));
          co_await linger(*c);
        } else if (ec == beast::error::timeout) {
          ++stats_.slow_clients_closed;
        } else if (is_http_parse_error(ec) && ec != beast_http::error::partial_message) {
          co_await write(*c, nullptr,
                         error_response(Status::bad_request, "body",
                                        "malformed request body: " + ec.message()));
        }
        break;
      }
    }
    ++stats_.requests_total;
    Request req(parser.release());
    if (!co_await dispatch(c, req)) break;
  }
  c->close();
  forget(c.get());
}

asio::awaitable<void> Server::linger(Connection& c) {
  // Closing with unread bytes makes the kernel send a reset, which can destroy the answer
  // before the client reads it (a client still sending a body sees EPIPE instead of our 413).
  // So: no more writes, then read and drop what the client still sends, bounded in bytes and
  // time, as HTTP servers' "lingering close" does.
  beast::error_code ec;
  c.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  c.stream.expires_after(1s);
  char buf[64 * 1024];
  for (size_t drained = 0; drained < (4u << 20);) {
    auto [rec, n] = co_await c.stream.async_read_some(asio::buffer(buf), kTuple);
    if (rec) break;
    drained += n;
  }
}

asio::awaitable<bool> Server::dispatch(std::shared_ptr<Connection> c, Request& req) {
  if (!req.ok()) {
    ++stats_.requests_refused;
    co_return co_await write(*c, &req, req.refusal());
  }
  auto m = router_.match(req);
  if (m.refusal) co_return co_await write(*c, &req, std::move(*m.refusal));
  if (m.handler) {
    Response res;
    try {
      res = (*m.handler)(req);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "http: %s %s: internal error: %s\n", std::string(req.method()).c_str(),
                   std::string(req.target()).c_str(), e.what());
      res = error_response(Status::internal_server_error, "", "internal error");
    }
    co_return co_await write(*c, &req, std::move(res));
  }
  c->state = Connection::State::streaming;
  ++stats_.streams_open;
  Exchange ex(*this, c, req);
  try {
    co_await (*m.stream)(ex);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http: stream %s: %s\n", std::string(req.target()).c_str(), e.what());
  }
  --stats_.streams_open;
  if (ex.replied_) co_return !c->closed && req.keep_alive() && !stopping_;
  if (ex.started_ && ex.chunked_ && !c->closed) {
    c->stream.expires_after(limits_.write_timeout);
    co_await asio::async_write(c->stream, beast_http::make_chunk_last(), kTuple);
  }
  if (!ex.started_ && !c->closed)
    co_await write(*c, &req, error_response(Status::service_unavailable, "", "stream ended"));
  co_return false;
}

void Server::finalize(const Request* req, Response& res) const {
  res.version(11);
  res.set("X-Content-Type-Options", "nosniff");
  bool head = req && req->verb() == Verb::head;
  if (req && !head && res.body().size() >= kMinCompressed &&
      res.find(beast_http::field::content_encoding) == res.end() &&
      compressible(res[beast_http::field::content_type]) &&
      accepts_gzip(req->header("Accept-Encoding"))) {
    if (auto z = gzip(res.body())) {
      res.body() = std::move(*z);
      res.set(beast_http::field::content_encoding, "gzip");
    }
  }
  if (req && compressible(res[beast_http::field::content_type]))
    res.set(beast_http::field::vary, "Accept-Encoding");
  res.prepare_payload();
  if (head) {
    auto len = res.body().size();
    res.body().clear();
    res.content_length(len);
  }
  res.keep_alive(req && req->keep_alive() && !stopping_);
}

asio::awaitable<bool> Server::write(Connection& c, const Request* req, Response res) {
  if (c.closed) co_return false;
  finalize(req, res);
  c.stream.expires_after(limits_.write_timeout);
  auto [ec, n] = co_await beast_http::async_write(c.stream, res, kTuple);
  if (ec == beast::error::timeout) ++stats_.slow_clients_closed;
  co_return !ec && res.keep_alive();
}

}  // namespace tend::http
