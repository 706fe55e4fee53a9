// Admitting a job to this agent: its directory and the files the job reads, made before the job
// is recorded. Shared by POST /v1/jobs and the fleet member (a job claimed from etcd).
#pragma once

#include <string>

#include "jobspec/job_request.hpp"
#include "tend/error.hpp"

namespace tend::agent {

// Makes `dir` and the files the job reads (its stdin, its script), private to the agent
// (0700/0600: the shim opens them as root and hands them to the job as fds). On failure removes
// what it made.
Expected<void> prepare_job_dir(const std::string& dir, const JobRequest& req);

}  // namespace tend::agent
