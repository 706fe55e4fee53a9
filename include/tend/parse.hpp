// Parsing of user input shared by every face: durations and signal names.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tend/error.hpp"

namespace tend {

// "1.5" (seconds), "500ms", "30s", "5m", "2h", "1d", "0" (none). Rejects negatives, junk,
// and values that overflow. The Error's detail says what was wrong, for the user.
Expected<std::chrono::milliseconds> parse_duration(std::string_view text);
// "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3". Rejects 0 and out-of-range numbers.
Expected<int> parse_signal(std::string_view text);
// "SIGTERM" for 15; "SIG42" for unnamed ones.
std::string signal_name(int sig);
// "1.5s", "500ms", "2m" for display.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace tend
