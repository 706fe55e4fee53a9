#include "server/retention.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>

#include "tend/fd.hpp"

namespace tend::agent {

Expected<void> remove_job_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? Expected<void>{} : Error::from_errno("open", dir);
  DIR* d = ::fdopendir(fd.get());
  if (!d) return Error::from_errno("fdopendir", dir);
  (void)fd.release();  // the DIR owns it now
  Expected<void> result;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::unlinkat(::dirfd(d), name.c_str(), 0) != 0 && errno != ENOENT && result)
      result = Error::from_errno("unlink", dir + "/" + name);
    errno = 0;
  }
  ::closedir(d);
  if (!result) return result;
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return Error::from_errno("rmdir", dir);
  return {};
}

Expected<void> remove_jobs(Store& store, const std::string& jobs_dir,
                           const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  if (auto r = store.remove(ids); !r) return r;
  Expected<void> result;
  for (const std::string& id : ids)
    if (auto r = remove_job_dir(jobs_dir + "/" + id); !r && result) result = r;
  return result;
}

Expected<int> retention_pass(Store& store, const std::string& jobs_dir,
                             const RetentionPolicy& policy, int64_t now_ms, int batch,
                             bool by_age) {
  auto ids = store.beyond_newest(policy.keep_jobs, batch);
  if (!ids) return ids.error();
  if (by_age && static_cast<int>(ids->size()) < batch) {
    auto old = store.finished_before(now_ms - policy.keep_for.count(),
                                     batch - static_cast<int>(ids->size()));
    if (!old) return old.error();
    for (auto& id : *old)
      if (std::find(ids->begin(), ids->end(), id) == ids->end()) ids->push_back(std::move(id));
  }
  if (auto r = remove_jobs(store, jobs_dir, *ids); !r) return r.error();
  return static_cast<int>(ids->size());
}

Expected<int> remove_orphan_dirs(Store& store, const std::string& jobs_dir) {
  auto ids = store.all_ids();
  if (!ids) return ids.error();
  std::set<std::string> known(ids->begin(), ids->end());
  DIR* d = ::opendir(jobs_dir.c_str());
  if (!d) return Error::from_errno("opendir", jobs_dir);
  std::vector<std::string> orphans;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != ".." && !known.count(name)) orphans.push_back(name);
  }
  ::closedir(d);
  for (const std::string& name : orphans)
    if (auto r = remove_job_dir(jobs_dir + "/" + name); !r) return r.error();
  return static_cast<int>(orphans.size());
}

}  // namespace tend::agent
