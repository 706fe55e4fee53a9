// GET /v1/jobs/{id}/output/times: when a job's output arrived, from the records its shim keeps
// beside the output (shim/output_times.hpp), as [offset, unix ms] pairs.
#pragma once

#include <string>

#include "http/router.hpp"
#include "server/store.hpp"

namespace tend::agent {

http::Response output_times(Store& store, const std::string& jobs_dir, const http::Request& req);

}  // namespace tend::agent
