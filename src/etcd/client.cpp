#include "etcd/client.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "etcd/codec.hpp"

namespace tend::etcd {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Idle connections per endpoint: a call borrows one (or opens one) and gives it back.
struct Client::Pool {
  std::vector<std::vector<std::unique_ptr<http::Client>>> idle;
  static constexpr size_t kKeep = 8;
};

Result<std::vector<http::Url>> parse_endpoints(std::string_view text) {
  std::vector<http::Url> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    auto part = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    auto url = http::parse_url(part);
    if (!url) return Error{ErrorKind::invalid, "etcd endpoint: " + url.error().message()};
    if (!out.empty() && out.front().tls != url->tls)
      return Error{ErrorKind::invalid,
                   "etcd endpoints: http:// and https:// mixed (a bare HOST:PORT is http): every "
                   "member of a cluster is reached the same way"};
    out.push_back(*url);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return Error{ErrorKind::invalid, "etcd endpoint: none given"};
  return out;
}

Error answer_error(unsigned status, std::string_view body, const std::string& where) {
  auto j = json::parse(body, nullptr, false);
  int code = -1;
  std::string msg = "HTTP " + std::to_string(status);
  if (j.is_object()) {
    if (j.contains("code") && j["code"].is_number_integer()) code = j["code"].get<int>();
    if (j.contains("message") && j["message"].is_string()) msg = j["message"];
  } else if (status < 500 && !body.empty()) {
    // A plain-text refusal (e.g. a client certificate with a CommonName): its first line.
    msg = std::string(body.substr(0, std::min(body.find('\n'), size_t{200})));
  }
  auto kind = kind_of_answer(status, code);
  return Error{kind, where + ": " + msg + " (HTTP " + std::to_string(status) + ")"};
}

Client::Client(asio::any_io_executor ex, std::vector<http::Url> endpoints, ClientOptions opts)
    : ex_(std::move(ex)),
      urls_(std::move(endpoints)),
      opts_(opts),
      pool_(std::make_unique<Pool>()),
      auth_done_(ex_, Clock::time_point::max()) {
  pool_->idle.resize(urls_.size());
}

Client::~Client() = default;

void Client::rotate_from(size_t failed) {
  if (preferred_ != failed) return;  // another call moved on already
  preferred_ = (preferred_ + 1) % urls_.size();
  ++counters_.rotations;
}

http::ClientOptions Client::connection_options(Millis request) const {
  http::ClientOptions o;
  o.connect_timeout = opts_.connect_timeout;
  o.request_timeout = request;
  o.tls = opts_.tls;
  return o;
}

asio::awaitable<Result<json>> Client::post_to(size_t ep, const char* path, const std::string& body,
                                              Millis limit, const std::string& token) {
  auto& idle = pool_->idle[ep];
  std::unique_ptr<http::Client> conn;
  if (!idle.empty()) {
    conn = std::move(idle.back());
    idle.pop_back();
  } else {
    conn =
        std::make_unique<http::Client>(ex_, urls_[ep], connection_options(opts_.attempt_timeout));
  }
  conn->set_authorization(token);
  ++counters_.attempts;
  auto r = co_await conn->request_within(limit, http::Verb::post, path, body);
  if (idle.size() < Pool::kKeep) idle.push_back(std::move(conn));
  std::string where = std::string("etcd ") + path + " at " + urls_[ep].where.to_string();
  if (!r) {
    Error e{ErrorKind::unavailable, where + ": " + r.error().message()};
    if (r.error().kind == tend::ErrorKind::untrusted)
      refused_certificate_ = e.message;
    else if (!refused_certificate_.empty())
      e.message += " (and before: " + refused_certificate_ + ")";
    co_return e;
  }
  refused_certificate_.clear();
  if (r->status != 200) co_return answer_error(r->status, r->body, where);
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) co_return Error{ErrorKind::bad_response, where + ": not a JSON object"};
  co_return j;
}

namespace {

Millis left_until(Clock::time_point deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

}  // namespace

asio::awaitable<Result<json>> Client::call(const char* path, const json& body, Millis timeout) {
  if (timeout <= 0ms) timeout = opts_.call_timeout;
  const auto deadline = Clock::now() + timeout;
  const std::string text = body.dump();
  for (int round = 0;; ++round) {
    auto tok = co_await token(std::max(left_until(deadline), Millis(1)));
    if (!tok) {
      ++counters_.failed_calls;
      co_return tok.error();
    }
    auto r = co_await rotating(path, text, deadline, *tok);
    // An expired token: once more with a fresh one (decided on the gRPC code, error.cpp).
    if (r || r.error().kind != ErrorKind::unauthenticated || tok->empty() || round > 0) co_return r;
    forget_token(*tok);
  }
}

asio::awaitable<Result<std::string>> Client::token(Millis timeout) {
  if (!opts_.credentials) co_return std::string();
  while (authenticating_) co_await auth_done_.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!token_.empty()) co_return token_;
  authenticating_ = true;
  auto r = co_await authenticate(timeout);
  authenticating_ = false;
  auth_done_.cancel();
  if (!r) co_return r.error();
  token_ = *r;
  co_return token_;
}

void Client::forget_token(const std::string& token) {
  if (token == token_) token_.clear();
}

asio::awaitable<Result<std::string>> Client::authenticate(Millis timeout) {
  ++counters_.authenticate;
  const Credentials& c = *opts_.credentials;
  const std::string body = json{{"name", c.user}, {"password", c.password}}.dump();
  std::string none;
  auto r = co_await rotating("/v3/auth/authenticate", body, Clock::now() + timeout, none);
  if (!r) {
    Error e = r.error();
    if (e.kind != ErrorKind::unavailable && e.kind != ErrorKind::timeout) e.kind = ErrorKind::auth;
    e.message = "etcd: cannot authenticate as user \"" + c.user + "\": " + e.message;
    co_return e;
  }
  if (!r->contains("token") || !(*r)["token"].is_string() ||
      (*r)["token"].get<std::string>().empty())
    co_return Error{ErrorKind::bad_response, "etcd authenticate: no token in the answer"};
  co_return (*r)["token"].get<std::string>();
}

asio::awaitable<Result<json>> Client::rotating(const char* path, const std::string& text,
                                               Clock::time_point deadline,
                                               const std::string& token) {
  const Millis timeout = std::max(left_until(deadline), Millis(1));
  Error last{ErrorKind::timeout, std::string("etcd ") + path + ": no endpoint tried"};
  size_t failures_in_a_row = 0;
  for (;;) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left <= 0ms) break;
    size_t ep = preferred_;
    auto started = Clock::now();
    Millis limit = std::min(left, opts_.attempt_timeout);
    auto r = co_await post_to(ep, path, text, limit, token);
    if (r || r.error().kind != ErrorKind::unavailable) {
      if (r)
        preferred_ = ep;
      else
        ++counters_.failed_calls;
      co_return r;
    }
    last = r.error();
    // An attempt that used its whole share is a timeout (a stopped member, no quorum).
    if (Clock::now() - started >= limit) last.kind = ErrorKind::timeout;
    rotate_from(ep);
    // Every endpoint failed at once (all refusing): wait a little instead of spinning.
    if (++failures_in_a_row % urls_.size() == 0) {
      asio::steady_timer t(ex_);
      t.expires_after(
          std::min(Millis(100), std::chrono::duration_cast<Millis>(
                                    std::max(Clock::duration::zero(), deadline - Clock::now()))));
      co_await t.async_wait(asio::use_awaitable);
    }
  }
  ++counters_.failed_calls;
  last.message =
      "no answer within " + std::to_string(timeout.count()) + " ms; last: " + last.message;
  co_return last;
}

namespace {

// Decodes a 200 answer with `decode`; a shape etcd does not send is bad_response.
template <class T, class Decode>
Result<T> decoded(Result<json> r, Decode decode, const char* what) {
  if (!r) return r.error();
  try {
    return decode(*r);
  } catch (const std::exception& e) {
    return Error{ErrorKind::bad_response, std::string("etcd ") + what + ": " + e.what()};
  }
}

// The request is taken by value from an xvalue: GCC 12 destroys a braced temporary passed
// straight to a coroutine twice, so the public calls are plain functions that encode first.
template <class T>
asio::awaitable<Result<T>> decode_call(Client& c, const char* path, json body, Millis timeout,
                                       T (*decode)(const json&), const char* what) {
  auto r = co_await c.call(path, body, timeout);
  co_return decoded<T>(std::move(r), decode, what);
}

}  // namespace

asio::awaitable<Result<RangeResult>> Client::range(RangeRequest req, Millis timeout) {
  ++counters_.range;
  json body = codec::encode(req);
  return decode_call<RangeResult>(*this, "/v3/kv/range", std::move(body), timeout,
                                  codec::decode_range, "range");
}

asio::awaitable<Result<PutResult>> Client::put(PutRequest req, Millis timeout) {
  ++counters_.put;
  json body = codec::encode(req);
  return decode_call<PutResult>(*this, "/v3/kv/put", std::move(body), timeout, codec::decode_put,
                                "put");
}

asio::awaitable<Result<DeleteResult>> Client::delete_range(DeleteRequest req, Millis timeout) {
  ++counters_.delete_range;
  json body = codec::encode(req);
  return decode_call<DeleteResult>(*this, "/v3/kv/deleterange", std::move(body), timeout,
                                   codec::decode_delete, "deleterange");
}

asio::awaitable<Result<TxnResult>> Client::txn(TxnRequest req, Millis timeout) {
  auto is_range = [](const TxnOp& op) { return std::holds_alternative<RangeRequest>(op); };
  bool reads_only = req.compare.empty() &&
                    std::all_of(req.success.begin(), req.success.end(), is_range) &&
                    std::all_of(req.failure.begin(), req.failure.end(), is_range);
  ++(reads_only ? counters_.read_txn : counters_.txn);
  json body = codec::encode(req);
  return decode_call<TxnResult>(*this, "/v3/kv/txn", std::move(body), timeout, codec::decode_txn,
                                "txn");
}

asio::awaitable<Result<std::vector<RangeResult>>> Client::ranges(std::vector<RangeRequest> rs,
                                                                 Millis timeout) {
  const size_t n = rs.size();
  TxnRequest t;
  for (auto& r : rs) t.success.emplace_back(std::move(r));
  auto got = co_await txn(std::move(t), timeout);
  if (!got) co_return got.error();
  std::vector<RangeResult> out;
  for (auto& answer : got->responses) {
    auto* range = std::get_if<RangeResult>(&answer);
    if (!range) co_return Error{ErrorKind::bad_response, "etcd txn: a range answered otherwise"};
    range->header = got->header;  // the txn's revision: every range was read at it
    out.push_back(std::move(*range));
  }
  if (out.size() != n)
    co_return Error{ErrorKind::bad_response, "etcd txn: not one answer per range"};
  co_return out;
}

asio::awaitable<Result<LeaseGrant>> Client::lease_grant(int64_t ttl, Millis timeout) {
  ++counters_.lease_grant;
  json body = {{"TTL", std::to_string(ttl)}};  // named: GCC 12 cannot keep it in the frame
  auto r = co_await call("/v3/lease/grant", body, timeout);
  co_return decoded<LeaseGrant>(
      std::move(r),
      [](const json& b) {
        return LeaseGrant{codec::decode_header(b), codec::int_field(b, "ID"),
                          codec::int_field(b, "TTL")};
      },
      "lease grant");
}

asio::awaitable<Result<Header>> Client::lease_revoke(int64_t id, Millis timeout) {
  ++counters_.lease_revoke;
  json body = {{"ID", std::to_string(id)}};
  auto r = co_await call("/v3/lease/revoke", body, timeout);
  co_return decoded<Header>(std::move(r), codec::decode_header, "lease revoke");
}

asio::awaitable<Result<LeaseKeepAlive>> Client::lease_keepalive(int64_t id, Millis timeout) {
  ++counters_.keepalive;
  json body = {{"ID", std::to_string(id)}};
  auto r = co_await call("/v3/lease/keepalive", body, timeout);
  if (!r) co_return r.error();
  // The answer is a stream of one message: {"result": {...}} (or {"error": {...}}).
  const json& answer = *r;
  if (answer.contains("error"))
    co_return Error{ErrorKind::unavailable, "etcd lease keepalive: " + answer["error"].dump()};
  json result = answer.contains("result") ? answer.at("result") : json::object();
  auto res = decoded<LeaseKeepAlive>(
      std::move(result),
      [](const json& b) {
        return LeaseKeepAlive{codec::decode_header(b), codec::int_field(b, "ID"),
                              codec::int_field(b, "TTL")};
      },
      "lease keepalive");
  // An expired or revoked lease is answered with TTL omitted (0), not with an error.
  if (res && res->ttl <= 0)
    co_return Error{ErrorKind::not_found, "etcd lease keepalive: lease " + std::to_string(id) +
                                              " has expired or was revoked"};
  co_return res;
}

asio::awaitable<Result<Header>> Client::compact(int64_t revision, Millis timeout) {
  ++counters_.compact;
  json body = {{"revision", std::to_string(revision)}, {"physical", true}};
  auto r = co_await call("/v3/kv/compaction", body, timeout);
  co_return decoded<Header>(std::move(r), codec::decode_header, "compaction");
}

asio::awaitable<Result<Status>> Client::status_of(size_t ep, Millis timeout) {
  ++counters_.status;
  if (timeout <= 0ms) timeout = opts_.call_timeout;
  const std::string body = "{}";
  const std::string no_token;  // status needs none
  auto r = co_await post_to(ep, "/v3/maintenance/status", body, timeout, no_token);
  co_return decoded<Status>(std::move(r), codec::decode_status, "status");
}

}  // namespace tend::etcd
