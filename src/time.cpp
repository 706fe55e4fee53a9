#include "tend/time.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace tend {

using std::chrono::milliseconds;
using std::chrono::system_clock;

std::string format_rfc3339(milliseconds since_epoch) {
  const int64_t ms = since_epoch.count();
  // Floor division: C++ truncates toward zero, which would put -1 ms at 1970-01-01T00:00:00.
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

std::string format_rfc3339(system_clock::time_point t) {
  return format_rfc3339(std::chrono::floor<milliseconds>(t.time_since_epoch()));
}

std::optional<system_clock::time_point> parse_rfc3339(std::string_view text) {
  const std::string s(text);  // sscanf wants a terminated string
  struct tm tm {};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int d = digits; d < 3; ++d) frac_ms *= 10;
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int hh = 0, mm = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &hh, &mm) != 2 || s.size() != i + 6)
      return std::nullopt;
    offset_s = (s[i] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const int64_t secs = ::timegm(&tm);
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
      milliseconds((secs - offset_s) * 1000 + frac_ms)));
}

}  // namespace tend
