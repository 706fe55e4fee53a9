// Parsing of user input shared by every face: durations and signal names.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

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
// Byte sizes, binary units: "65536", "64K", "64KiB", "512M", "2G", "1T" (k/m/g/t too).
// Rejects negatives, fractions, junk and overflow.
Expected<uint64_t> parse_size(std::string_view text);
// A whole number of things, 1 or more ("100"): no sign, no unit, no fraction (e.g. a process
// limit).
Expected<uint64_t> parse_count(std::string_view text);
// A number of CPUs above 0, finite: "0.5", "2" (a CPU quota).
Expected<double> parse_cpus(std::string_view text);
// "64 MiB", "1.5 GiB", "512 B" for display.
std::string format_size(uint64_t bytes);

// The one convention for a face's command line ("parse options or exit"). Each face has
//   ParseOutcome<Options> parse_options(int argc, char** argv);
// and its main starts with
//   auto parsed = parse_options(argc, argv);
//   if (auto* exit = std::get_if<ExitNow>(&parsed)) return exit->status;
// The parser has already said everything: --help on stdout (status 0), a bad option as one
// sentence on stderr through usage_error (status 125). Nothing has started.
struct ExitNow {
  int status;
};
template <class Options>
using ParseOutcome = std::variant<Options, ExitNow>;
// Prints "PROGRAM: SENTENCE" on stderr and returns the status for a usage error, 125.
ExitNow usage_error(std::string_view program, std::string_view sentence);

}  // namespace tend
