// Internal: the registry of children that libtend's owners will reap through their pidfds.
// See include/tend/reaper.hpp for why it exists and how it makes the Reaper race-free.
#pragma once

#include <sys/types.h>

#include <mutex>

namespace tend::detail {

// Held by spawn across the clone and the claim, and by the Reaper from peek to reap.
std::mutex& claims_mutex();
// Callers hold claims_mutex().
void claim_locked(pid_t pid);
bool is_claimed_locked(pid_t pid);
// Takes the mutex itself. `reaped`: the owner has just reaped it (so it is no zombie to announce).
void unclaim(pid_t pid, bool reaped);

}  // namespace tend::detail
