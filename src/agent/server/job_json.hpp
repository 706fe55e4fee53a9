// The JSON a client sees for one job (docs/api.md): the record's figures and its request.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/store.hpp"
#include "tend/limits.hpp"

namespace tend::agent {

nlohmann::json job_json(const JobRecord& rec);
// A running job's figures now (GET /v1/jobs/{id} shows them as "now").
nlohmann::json live_json(const ScopeFigures& f);

// The same, with the figures of a running job made live: its output_bytes is the size of its
// output file in `jobs_dir` so far (the record holds the total only once the job has ended).
nlohmann::json job_json(const JobRecord& rec, const std::string& jobs_dir);

}  // namespace tend::agent
