#include "server/store_errors.hpp"

#include <cerrno>

namespace tend::agent {

http::Response store_error_response(const Error& e) {
  switch (e.code) {
    case ENOSPC:
      return http::error_response(http::Status::insufficient_storage, "",
                                  "the agent's disk is full: " + e.message());
    case EUCLEAN:
      return http::error_response(
          http::Status::service_unavailable, "",
          "the agent's database is damaged (" + e.message() +
              "); restart the agent to check it, and see docs/security.md to recover");
    default:
      return http::error_response(http::Status::internal_server_error, "",
                                  "the agent's database failed: " + e.message());
  }
}

}  // namespace tend::agent
