// Wall-clock times as the API shows them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tend::agent {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
// "2026-11-21T11:05:14.123Z"
std::string rfc3339(int64_t ms_since_epoch);

}  // namespace tend::agent
