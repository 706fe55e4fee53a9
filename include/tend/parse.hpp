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
// "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3". Rejects 0 and out-of-range numbers.
Expected<int> parse_signal(std::string_view text);
// "SIGTERM" for 15; "SIG42" for unnamed ones.
std::string signal_name(int sig);
// "1.5s", "500ms", "2m" for display.
std::string format_duration(std::chrono::milliseconds d);
// Byte sizes, binary units: "65536", "64K", "64KiB", "512M", "2G", "1T" (k/m/g/t too).
// Rejects negatives, fractions, junk and overflow.
Expected<uint64_t> parse_size(std::string_view text);
// "64 MiB", "1.5 GiB", "512 B" for display.
std::string format_size(uint64_t bytes);

}  // namespace tend
