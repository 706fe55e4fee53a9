// An etcd v3 client over the HTTP/JSON gateway of etcd 3.4 (POST /v3/...). Every call has a
// deadline and rotates between the endpoints: a member that refuses, resets, answers 5xx (no
// leader, no quorum) or does not answer within its share of the deadline is skipped for the
// next one. Errors are values with a kind (error.hpp).
//
// A Client lives on one executor and is used by one thread (the one running its io_context);
// any number of coroutines may call it at once (each call borrows a connection of its own).
// GCC 12 pitfall (measured here): a braced aggregate temporary inside a co_await expression,
// `co_await c.put({"k", "v"})`, is destroyed twice (heap corruption). Name the request first:
// `PutRequest p{"k", "v"}; co_await c.put(p);`.
//
// https:// endpoints take a TLS context (options().tls: the CA and the client certificate of
// etcd's --client-cert-auth). With credentials, the client authenticates (POST
// /v3/auth/authenticate, once at a time) and sends the token as the Authorization header of every
// call; a call etcd answers UNAUTHENTICATED (gRPC 16, "invalid auth token": a simple token
// lapses after --auth-token-ttl unused, on each member apart) authenticates again and is retried
// once. Measured on etcd 3.4.23: a wrong password is INVALID_ARGUMENT (3) at authenticate, no
// token at all is INVALID_ARGUMENT "user name is empty", a key outside the user's roles is
// PERMISSION_DENIED (7); status and lease keepalives need no token.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "etcd/error.hpp"
#include "etcd/types.hpp"
#include "http/address.hpp"
#include "http/client.hpp"
#include "http/tls.hpp"

namespace tend::etcd {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;

// "http://127.0.0.1:2379,http://127.0.0.1:22379": the endpoints of one cluster, in order.
Result<std::vector<http::Url>> parse_endpoints(std::string_view comma_separated);

// An etcd user (etcd's --auth: `etcdctl auth enable`).
struct Credentials {
  std::string user;
  std::string password;
};

struct ClientOptions {
  Millis call_timeout = 5s;     // a call's deadline, all its attempts included
  Millis attempt_timeout = 2s;  // at most this long on one endpoint before trying the next
  Millis connect_timeout = 1s;  // connecting and the TLS handshake
  http::TlsContext tls;         // for https:// endpoints (http::make_client_tls)
  std::optional<Credentials> credentials;  // etcd auth: calls carry a token for this user
};

// What the client sent, for the fleet's "etcd requests per run" and for tests. Calls count once
// each whatever their attempts; `attempts` counts HTTP requests (keepalives and watch streams
// included), `rotations` the times a failure moved the client to the next endpoint.
// `read_txn`: transactions of ranges only (no compare), which change nothing; `txn` the others.
struct Counters {
  uint64_t range = 0, read_txn = 0, put = 0, txn = 0, delete_range = 0, lease_grant = 0,
           lease_revoke = 0, keepalive = 0, status = 0, compact = 0, watch_streams = 0,
           authenticate = 0;
  uint64_t attempts = 0, rotations = 0, failed_calls = 0;
  // Calls that change the store or a lease's existence (keepalives not included).
  uint64_t writes() const {
    return put + txn + delete_range + lease_grant + lease_revoke + compact;
  }
};

class Client {
 public:
  Client(boost::asio::any_io_executor ex, std::vector<http::Url> endpoints,
         ClientOptions opts = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // `timeout` 0 = options().call_timeout.
  boost::asio::awaitable<Result<RangeResult>> range(RangeRequest r, Millis timeout = 0ms);
  boost::asio::awaitable<Result<PutResult>> put(PutRequest p, Millis timeout = 0ms);
  boost::asio::awaitable<Result<DeleteResult>> delete_range(DeleteRequest d, Millis timeout = 0ms);
  // A transaction. Retried on the next endpoint after a timeout, so a compare that fails may be
  // failing on this very transaction's own earlier success: a create-if-absent claim puts a
  // value unique to the claimer and reads the key in `failure` to tell "mine" from "someone's".
  boost::asio::awaitable<Result<TxnResult>> txn(TxnRequest t, Millis timeout = 0ms);
  // Several ranges at one revision in one round trip (a txn of ranges only: linearizable
  // unless every range is serializable). The answers in order.
  boost::asio::awaitable<Result<std::vector<RangeResult>>> ranges(std::vector<RangeRequest> rs,
                                                                  Millis timeout = 0ms);
  boost::asio::awaitable<Result<LeaseGrant>> lease_grant(int64_t ttl_seconds, Millis timeout = 0ms);
  // Revoking deletes every key attached. A lease that does not exist: ErrorKind::not_found.
  boost::asio::awaitable<Result<Header>> lease_revoke(int64_t id, Millis timeout = 0ms);
  // One renewal: one POST /v3/lease/keepalive with one message (the gateway answers one
  // message per request). A lease that expired or was revoked: ErrorKind::not_found.
  boost::asio::awaitable<Result<LeaseKeepAlive>> lease_keepalive(int64_t id, Millis timeout = 0ms);
  // Compacts the history up to `revision` (physical: waits until it is applied on disk).
  boost::asio::awaitable<Result<Header>> compact(int64_t revision, Millis timeout = 0ms);
  // The status of one member (no rotation: to find the leader or a member's health).
  boost::asio::awaitable<Result<Status>> status_of(size_t endpoint, Millis timeout = 0ms);

  // One POST of `body` to `path`, rotating endpoints until `timeout`: the decoded 200 body, or
  // the error. The building block of the calls above.
  boost::asio::awaitable<Result<nlohmann::json>> call(const char* path, const nlohmann::json& body,
                                                      Millis timeout);

  // The auth token calls carry ("" without credentials): the one held, else a new one (one
  // authentication at a time; other callers wait for its answer). Wrong user or password:
  // ErrorKind::auth.
  boost::asio::awaitable<Result<std::string>> token(Millis timeout);
  // Drops `token` after etcd called it invalid: the next token() authenticates again (a newer
  // token, got meanwhile by another call, is kept).
  void forget_token(const std::string& token);
  // How a connection to an endpoint is made (TLS included), a request bounded by `request`.
  http::ClientOptions connection_options(Millis request) const;

  const std::vector<http::Url>& endpoints() const { return urls_; }
  // The endpoint calls go to first (the last one that answered).
  size_t preferred() const { return preferred_; }
  // Moves on from `failed` (if it is still the preferred one) and counts a rotation.
  void rotate_from(size_t failed);
  const ClientOptions& options() const { return opts_; }
  const boost::asio::any_io_executor& executor() const { return ex_; }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Pool;
  boost::asio::awaitable<Result<nlohmann::json>> post_to(size_t endpoint, const char* path,
                                                         const std::string& body, Millis limit,
                                                         const std::string& token);
  // call() for one token: rotating endpoints until `deadline`.
  boost::asio::awaitable<Result<nlohmann::json>> rotating(
      const char* path, const std::string& body, std::chrono::steady_clock::time_point deadline,
      const std::string& token);
  boost::asio::awaitable<Result<std::string>> authenticate(Millis timeout);

  boost::asio::any_io_executor ex_;
  std::vector<http::Url> urls_;
  ClientOptions opts_;
  std::unique_ptr<Pool> pool_;
  size_t preferred_ = 0;
  Counters counters_;
  // Why a member's TLS certificate was last refused, until a member answers again. Failures
  // after it say it too: a member refused for its certificate and one slow to answer are both
  // "unavailable", and the slow one's "no answer in time" must not hide the cause to fix.
  std::string refused_certificate_;
  std::string token_;
  bool authenticating_ = false;
  boost::asio::steady_timer auth_done_;  // cancelled when an authentication ends: wakes waiters
};

// Decodes a gateway error answer ({"error": "...", "code": N}) into an Error naming `where`.
Error answer_error(unsigned http_status, std::string_view body, const std::string& where);

}  // namespace tend::etcd
