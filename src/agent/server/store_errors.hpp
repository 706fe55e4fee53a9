// How a failed Store call reaches a client: never as a short or empty answer, always as an
// error status with what went wrong (the Store has logged it).
#pragma once

#include "http/message.hpp"
#include "tend/error.hpp"

namespace tend::agent {

// 507 when the disk is full (ENOSPC), 503 when the database is damaged (EUCLEAN), else 500.
http::Response store_error_response(const Error& e);

}  // namespace tend::agent
