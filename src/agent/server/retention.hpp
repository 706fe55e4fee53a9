// Retention: how finished jobs leave the agent, records and directories together.
//
// Order, so that a crash at any point leaves nothing half-kept: a job's record is deleted first,
// then its directory. A crash in between leaves a directory without a record, which the next
// start removes (remove_orphan_dirs) before the API accepts anything; the reverse, a record
// without its directory, cannot happen. A submission makes the directory before the record and
// removes it if recording fails; one interrupted by a crash is an orphan directory as well.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server/store.hpp"
#include "tend/error.hpp"

namespace tend::agent {

struct RetentionPolicy {
  int64_t keep_jobs = 10000;                             // the newest N jobs stay
  std::chrono::milliseconds keep_for{30LL * 86400'000};  // finished longer ago: removed
};

// Deletes the records of `ids` (finished jobs), then their directories.
Expected<void> remove_jobs(Store& store, const std::string& jobs_dir,
                           const std::vector<std::string>& ids);
// Removes up to `batch` jobs past `policy`, oldest first; returns how many it removed (a full
// batch: there may be more). `by_age`: also those older than keep_for (a scan of the records;
// the count alone is cheap enough to check after every job).
Expected<int> retention_pass(Store& store, const std::string& jobs_dir,
                             const RetentionPolicy& policy, int64_t now_ms, int batch, bool by_age);
// Removes the job directories that have no record; returns how many. Only before the API runs:
// a submission in progress has a directory and no record yet.
Expected<int> remove_orphan_dirs(Store& store, const std::string& jobs_dir);
// Removes a job directory and the files in it (job directories hold no subdirectories).
Expected<void> remove_job_dir(const std::string& dir);

}  // namespace tend::agent
