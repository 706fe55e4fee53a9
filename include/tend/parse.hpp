// Parsing of user input shared by every face: durations and signal names.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tend/error.hpp"

namespace tend {

// "1.5" (seconds), "500ms", "30s", "5m", "2h", "1d", "0" (none). Rejects negatives, junk,
// and values that overflow. The Error's detail says what was wrong, for the user.
Expected<std::chrono::milliseconds> parse_duration(std::string_view text);
// A duration as GNU timeout reads it: a floating-point number as strtod reads it (".1", "1e-1",
// "0x1p3", "inf") with at most one suffix s, m, h or d. A positive value rounds up to the next
// millisecond (never down to "none"); 0, and anything past kMaxDuration (values past time_t and
// "inf" included), mean "no limit" and come back as 0. The Error's detail is GNU's sentence:
// "invalid time interval 'x'".
Expected<std::chrono::milliseconds> parse_gnu_duration(std::string_view text);
// The longest finite duration either parser returns (100 years).
inline constexpr std::chrono::milliseconds kMaxDuration{int64_t{100} * 365 * 24 * 3600 * 1000};
// "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3". Rejects 0 and out-of-range numbers.
Expected<int> parse_signal(std::string_view text);
// "SIGTERM" for 15; "SIG42" for unnamed ones.
std::string signal_name(int sig);
// "1.5s", "500ms", "2m" for display.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace tend
