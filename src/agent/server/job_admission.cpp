#include "server/job_admission.hpp"

#include <sys/stat.h>

#include "server/retention.hpp"
#include "shim/files.hpp"

namespace tend::agent {

Expected<void> admit(JobRequest& req, const AdmissionPolicy& policy) {
  if (auto l = policy.limits.apply(req.limits); !l) return l.error();
  if (auto host = check_on_host(req); !host) return host.error();
  if (auto no = policy.users.refusal(req.user.value_or(policy.own_user)))
    return Error{"user", 0, {}, *no, ErrorKind::permission};
  return {};
}

Expected<void> prepare_job_dir(const std::string& dir, const JobRequest& req) {
  if (::mkdir(dir.c_str(), 0700) != 0) return Error::from_errno("mkdir", dir);
  Expected<void> r;
  if (req.stdin_text) r = write_file(dir + "/stdin", *req.stdin_text, 0600);
  if (r && req.script) r = write_file(dir + "/script", *req.script, 0600);
  if (!r) (void)remove_job_dir(dir);
  return r;
}

}  // namespace tend::agent
