// The JSON a client sees for one job (docs/api.md): the record's figures and its request.
#pragma once

#include <nlohmann/json.hpp>

#include "server/store.hpp"
#include "tend/limits.hpp"

namespace tend::agent {

nlohmann::json job_json(const JobRecord& rec);
// A running job's figures now (GET /v1/jobs/{id} shows them as "now").
nlohmann::json live_json(const ScopeFigures& f);

}  // namespace tend::agent
