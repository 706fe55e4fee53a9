// `tend agent --recover`: the way back from a damaged database (docs/security.md).
// The job directories hold each job's truth once it ends (result.json, output), so the records
// can be rebuilt from them: what the damaged database still reads is kept whole, the rest is
// rebuilt from the directories (its request is lost; the record says so).
#pragma once

#include <memory>
#include <string>

#include "server/store.hpp"
#include "tend/error.hpp"

namespace tend::agent {

// Opens the database at `path`; a damaged one is salvaged into a fresh database after it is
// moved aside as PATH.damaged-UNIXTIME (with its WAL), and the old one kept for inspection.
Expected<std::unique_ptr<Store>> open_for_recovery(const std::string& path);

// Records every job directory under `jobs_dir` that has no record, as `running`: the scheduler's
// start then re-attaches to its shim, or finishes it from its result.json, or declares it lost.
// Returns how many it recorded.
Expected<int> rebuild_records(Store& store, const std::string& jobs_dir);

}  // namespace tend::agent
