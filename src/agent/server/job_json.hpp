// The JSON a client sees for one job (docs/api.md): the record's figures and its request.
#pragma once

#include <nlohmann/json.hpp>

#include "server/store.hpp"

namespace tend::agent {

nlohmann::json job_json(const JobRecord& rec);

}  // namespace tend::agent
