#include "etcd/error.hpp"

namespace tend::etcd {

const char* to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::unavailable:
      return "unavailable";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::compacted:
      return "compacted";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::precondition_failed:
      return "precondition_failed";
    case ErrorKind::invalid:
      return "invalid";
    case ErrorKind::auth:
      return "auth";
    case ErrorKind::unauthenticated:
      return "unauthenticated";
    case ErrorKind::canceled:
      return "canceled";
    case ErrorKind::bad_response:
      return "bad_response";
  }
  return "unknown";
}

ErrorKind kind_of_answer(unsigned http_status, int grpc_code) {
  // gRPC status codes (google.golang.org/grpc/codes), as the gateway puts them in "code".
  switch (grpc_code) {
    case 3:
      return ErrorKind::invalid;  // INVALID_ARGUMENT
    case 5:
      return ErrorKind::not_found;  // NOT_FOUND (lease)
    case 7:
      return ErrorKind::auth;  // PERMISSION_DENIED
    case 16:
      return ErrorKind::unauthenticated;  // "invalid auth token": expired (measured on 3.4.23)
    case 9:
      return ErrorKind::precondition_failed;  // FAILED_PRECONDITION
    case 11:
      return ErrorKind::compacted;  // OUT_OF_RANGE (compacted or future revision)
    case 4:
    case 14:
      return ErrorKind::unavailable;  // DEADLINE_EXCEEDED, UNAVAILABLE
    default:
      break;
  }
  // A member without quorum answers 500 {"code":2,"error":"context deadline exceeded"}.
  if (http_status >= 500) return ErrorKind::unavailable;
  return ErrorKind::bad_response;
}

}  // namespace tend::etcd
