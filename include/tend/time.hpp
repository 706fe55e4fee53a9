// Wall-clock times as tend writes them everywhere (Result JSON, the agent's API): RFC 3339, UTC,
// milliseconds, "2026-11-21T11:05:14.123Z".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tend {

// Times before 1970 are floored, not truncated: -1 ms is "1969-12-31T23:59:59.999Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);
std::string format_rfc3339(std::chrono::milliseconds since_epoch);
// Accepts what format_rfc3339 writes, plus any fraction length (cut to milliseconds) and a
// numeric offset ("+02:00"). nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace tend
