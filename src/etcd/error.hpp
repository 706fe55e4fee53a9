// Errors of the etcd client as values with a kind: callers decide on the kind, never on text.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace tend::etcd {

enum class ErrorKind {
  unavailable,          // no endpoint answered (refused, reset, no leader, no quorum: HTTP 5xx)
  timeout,              // the call's deadline passed before any endpoint answered
  compacted,            // the revision asked for is compacted (range at a revision, watch)
  not_found,            // e.g. the lease does not exist (any more)
  precondition_failed,  // etcd refused the request as a whole (gRPC FAILED_PRECONDITION)
  invalid,              // etcd says the request is malformed (gRPC INVALID_ARGUMENT): a bug here
  auth,                 // unauthenticated or permission denied
  canceled,             // a watch etcd canceled for another reason than compaction
  bad_response,         // the answer is not the JSON etcd sends
};
const char* to_string(ErrorKind);

struct Error {
  ErrorKind kind = ErrorKind::unavailable;
  std::string message;           // one line for a human: what failed, where, why
  int64_t compact_revision = 0;  // compacted: the oldest revision still readable (when known)
};

// A value or an etcd::Error (the shape of tend::Expected, with a kind to decide on).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Classifies an error answer of the gateway: its HTTP status and the gRPC code in its body.
ErrorKind kind_of_answer(unsigned http_status, int grpc_code);

}  // namespace tend::etcd
