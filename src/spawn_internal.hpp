// Internal: lets tests exercise each spawn level on one machine.
#pragma once

#include "tend/child.hpp"

namespace tend::detail {

// Overrides the probed level for this process (TEND_SPAWN=clone does the same at startup).
void force_spawn_level(SpawnLevel level);

}  // namespace tend::detail
