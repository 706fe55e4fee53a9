// Bounds on a followed stream (a job's output as server-sent events, GET …/output?sse=1): the
// side that writes it sends a comment (": keep-alive") after kHeartbeat of silence, so that the
// reader can tell a quiet job from a server that stopped (SIGSTOP, a frozen host, a lost route:
// the connection stays open and silent). A reader that hears nothing for kHeartbeatLost treats
// the server as gone. Several heartbeats: on a loaded machine some come late.
#pragma once

#include <chrono>

namespace tend::http {

inline constexpr std::chrono::seconds kHeartbeat{5};
inline constexpr std::chrono::seconds kHeartbeatLost{20};

}  // namespace tend::http
