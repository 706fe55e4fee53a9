// Admitting a job to this agent: its directory and the files the job reads, made before the job
// is recorded. Shared by POST /v1/jobs and the fleet member (a job claimed from etcd).
#pragma once

#include <string>

#include "jobspec/job_request.hpp"
#include "server/limit_policy.hpp"
#include "server/user_policy.hpp"
#include "tend/error.hpp"

namespace tend::agent {

// What this agent lets a job do, whoever submits it (its API or the fleet).
struct AdmissionPolicy {
  LimitPolicy limits;
  UserPolicy users;
  std::string own_user;  // the user a request that names none runs as
};

// Checks a parsed request against this agent and fills in its limits' defaults: the limits
// (ceilings, controllers this host has), what must exist on the host (cwd, user), the user
// policy. An error's stage names the field; kind usage (HTTP 400) or permission (HTTP 403).
Expected<void> admit(JobRequest& req, const AdmissionPolicy& policy);

// Makes `dir` and the files the job reads (its stdin, its script), private to the agent
// (0700/0600: the shim opens them as root and hands them to the job as fds). On failure removes
// what it made.
Expected<void> prepare_job_dir(const std::string& dir, const JobRequest& req);

}  // namespace tend::agent
