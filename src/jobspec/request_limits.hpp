// The "limits" object of a job request ({"memory": "256M", "memory_high": ..., "swap": ...,
// "pids": 100, "cpu": 1.5}), with the names `tend run` gives its flags. Pure functions, like the
// rest of the request's parsing; an error names the field ("limits.memory").
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "tend/error.hpp"
#include "tend/limits.hpp"

namespace tend {

// The request's field names, each with the Limits member it sets and the controller it needs.
struct LimitField {
  const char* name;  // "memory", "memory_high", "swap", "pids", "cpu"
  const char* controller;
};
inline constexpr LimitField kLimitFields[] = {{"memory", "memory"},
                                              {"memory_high", "memory"},
                                              {"swap", "memory"},
                                              {"pids", "pids"},
                                              {"cpu", "cpu"}};

// Sizes are a number of bytes or text like "512M", "2G"; pids a whole number from 1; cpu a
// number of CPUs from 0.01.
Expected<Limits> parse_limits(const nlohmann::json& v);
// The limits as stored and shown: sizes in bytes, only those set.
nlohmann::json limits_json(const Limits& l);

// Which field of `l` is set for `field` (as kLimitFields names it), as a number for messages
// and comparisons: bytes, processes, CPUs. nullopt when unset.
std::optional<double> limit_value(const Limits& l, std::string_view field);

}  // namespace tend
