// `tend doctor`'s two renderings of what the platform offers: readable lines and JSON.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "tend/platform.hpp"

namespace tend::doctor_face {

std::string render_text(const Platform& p);
nlohmann::json render_json(const Platform& p);
// What a user can do to get the cgroup level; empty when it is in force.
std::string cgroup_hint(const Platform& p);

}  // namespace tend::doctor_face
