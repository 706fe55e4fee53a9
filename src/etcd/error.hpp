// Errors of the etcd client as values with a kind: callers decide on the kind, never on text.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "tend/error.hpp"

namespace tend::etcd {

enum class ErrorKind {
  unavailable,          // no endpoint answered (refused, reset, no leader, no quorum: HTTP 5xx)
  timeout,              // the call's deadline passed before any endpoint answered
  compacted,            // the revision asked for is compacted (range at a revision, watch)
  not_found,            // e.g. the lease does not exist (any more)
  precondition_failed,  // etcd refused the request as a whole (gRPC FAILED_PRECONDITION)
  invalid,              // etcd says the request is malformed (gRPC INVALID_ARGUMENT): a bug here
  auth,                 // refused: permission denied, wrong user or password
  unauthenticated,      // the auth token is missing, invalid or expired (gRPC UNAUTHENTICATED)
  canceled,             // a watch etcd canceled for another reason than compaction
  bad_response,         // the answer is not the JSON etcd sends
};
const char* to_string(ErrorKind);

struct Error {
  ErrorKind kind = ErrorKind::unavailable;
  std::string message;           // one line for a human: what failed, where, why
  int64_t compact_revision = 0;  // compacted: the oldest revision still readable (when known)
};

// A value or an etcd::Error (tend::Expected's shape, with etcd's kinds to decide on).
template <class T>
using Result = BasicExpected<T, Error>;

// Classifies an error answer of the gateway: its HTTP status and the gRPC code in its body.
ErrorKind kind_of_answer(unsigned http_status, int grpc_code);

}  // namespace tend::etcd
