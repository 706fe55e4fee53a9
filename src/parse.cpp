#include "tend/parse.hpp"

#include <signal.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tend {
namespace {

// Far beyond any sensible timeout, and far below what steady_clock's nanoseconds can add to
// "now" without overflowing (about 292 years).
constexpr int64_t kMaxDurationMs = kMaxDuration.count();

constexpr const char* kDurationExamples = "examples: 1.5, 500ms, 30s, 5m, 2h";

Error duration_error(std::string_view text, const std::string& why) {
  return Error::with_detail("duration", "'" + std::string(text) + "': " + why);
}

struct SignalEntry {
  const char* name;  // without the SIG prefix
  int number;
};

// The first entry for a number is its canonical name; later ones are accepted aliases.
constexpr std::array kSignals = {
    SignalEntry{"HUP", SIGHUP},       SignalEntry{"INT", SIGINT},
    SignalEntry{"QUIT", SIGQUIT},     SignalEntry{"ILL", SIGILL},
    SignalEntry{"TRAP", SIGTRAP},     SignalEntry{"ABRT", SIGABRT},
    SignalEntry{"IOT", SIGIOT},       SignalEntry{"BUS", SIGBUS},
    SignalEntry{"FPE", SIGFPE},       SignalEntry{"KILL", SIGKILL},
    SignalEntry{"USR1", SIGUSR1},     SignalEntry{"SEGV", SIGSEGV},
    SignalEntry{"USR2", SIGUSR2},     SignalEntry{"PIPE", SIGPIPE},
    SignalEntry{"ALRM", SIGALRM},     SignalEntry{"TERM", SIGTERM},
    SignalEntry{"STKFLT", SIGSTKFLT}, SignalEntry{"CHLD", SIGCHLD},
    SignalEntry{"CLD", SIGCHLD},      SignalEntry{"CONT", SIGCONT},
    SignalEntry{"STOP", SIGSTOP},     SignalEntry{"TSTP", SIGTSTP},
    SignalEntry{"TTIN", SIGTTIN},     SignalEntry{"TTOU", SIGTTOU},
    SignalEntry{"URG", SIGURG},       SignalEntry{"XCPU", SIGXCPU},
    SignalEntry{"XFSZ", SIGXFSZ},     SignalEntry{"VTALRM", SIGVTALRM},
    SignalEntry{"PROF", SIGPROF},     SignalEntry{"WINCH", SIGWINCH},
    SignalEntry{"IO", SIGIO},         SignalEntry{"POLL", SIGPOLL},
    SignalEntry{"PWR", SIGPWR},       SignalEntry{"SYS", SIGSYS},
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Parses a run of decimal digits; false on empty input, junk or overflow.
bool parse_uint(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) return false;
  }
  out = v;
  return true;
}

}  // namespace

Expected<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return duration_error(text, std::string("empty (") + kDurationExamples + ")");
  if (text.front() == '-')
    return duration_error(text, std::string("negative (") + kDurationExamples + ")");

  // number := digits [ '.' digits ] ; unit := ms | s | m | h | d ; no unit: seconds.
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  std::string_view number = text.substr(0, i), unit = text.substr(i);
  std::string_view whole = number, frac;
  if (auto dot = number.find('.'); dot != std::string_view::npos) {
    whole = number.substr(0, dot);
    frac = number.substr(dot + 1);
  }
  int64_t unit_ms;
  if (unit.empty() || unit == "s")
    unit_ms = 1000;
  else if (unit == "ms")
    unit_ms = 1;
  else if (unit == "m")
    unit_ms = 60'000;
  else if (unit == "h")
    unit_ms = 3'600'000;
  else if (unit == "d")
    unit_ms = 86'400'000;
  else
    return duration_error(text, std::string("not a duration (") + kDurationExamples + ")");

  bool has_dot = number.find('.') != std::string_view::npos;
  auto digits_only = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (!digits_only(whole) || (has_dot && !digits_only(frac)))
    return duration_error(text, std::string("not a duration (") + kDurationExamples + ")");
  int64_t whole_v = 0, frac_v = 0;
  if (!parse_uint(whole, whole_v)) return duration_error(text, "too large (at most 100 years)");
  // Only the leading fraction digits can matter at millisecond precision.
  frac = frac.substr(0, 9);
  if (!frac.empty()) (void)parse_uint(frac, frac_v);

  int64_t ms;
  if (__builtin_mul_overflow(whole_v, unit_ms, &ms) || ms > kMaxDurationMs)
    return duration_error(text, "too large (at most 100 years)");
  int64_t scale = 1;
  for (size_t k = 0; k < frac.size(); ++k) scale *= 10;
  ms += frac_v * unit_ms / scale;  // frac_v < scale <= 1e9, unit_ms <= 8.64e7: no overflow
  if (ms > kMaxDurationMs) return duration_error(text, "too large (at most 100 years)");
  if (ms == 0 && (whole_v != 0 || frac_v != 0))
    return duration_error(text, "shorter than the resolution of 1ms");
  return std::chrono::milliseconds(ms);
}

Expected<std::chrono::milliseconds> parse_gnu_duration(std::string_view text) {
  auto invalid = [&] {
    return Error::with_detail("duration", "invalid time interval '" + std::string(text) + "'");
  };
  const std::string s(text);  // strtod needs the terminating NUL
  char* end = nullptr;
  errno = 0;
  double seconds = std::strtod(s.c_str(), &end);
  // Overflow (ERANGE, +-HUGE_VAL) is accepted as GNU does: it means "forever". NaN and
  // negatives are not.
  if (end == s.c_str() || !(seconds >= 0)) return invalid();
  const std::string_view suffix(end);
  double unit = 1;
  if (suffix.size() > 1) return invalid();
  if (suffix == "m")
    unit = 60;
  else if (suffix == "h")
    unit = 3600;
  else if (suffix == "d")
    unit = 86400;
  else if (!suffix.empty() && suffix != "s")
    return invalid();
  const double ms = std::ceil(seconds * unit * 1000);
  if (ms == 0 || ms > static_cast<double>(kMaxDurationMs)) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

Expected<int> parse_signal(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error::with_detail("signal", "'" + std::string(text) + "': " + why);
  };
  if (text.empty()) return bad("empty (examples: TERM, SIGKILL, 9, RTMIN+1)");
  int64_t n;
  if (parse_uint(text, n)) {
    if (n < 1 || n > SIGRTMAX) return bad("out of range (1-" + std::to_string(SIGRTMAX) + ")");
    return static_cast<int>(n);
  }
  std::string name = upper(text);
  if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
  for (const auto& e : kSignals)
    if (name == e.name) return e.number;

  // RTMIN, RTMIN+n, RTMAX, RTMAX-n: relative to the C library's real-time range.
  auto realtime = [&](std::string_view base_name, int base, int sign) -> Expected<int> {
    std::string_view rest = std::string_view(name).substr(base_name.size());
    int64_t off = 0;
    if (!rest.empty()) {
      if (rest.front() != (sign > 0 ? '+' : '-') || !parse_uint(rest.substr(1), off))
        return bad("not a signal (examples: TERM, SIGKILL, 9, RTMIN+1)");
    }
    int64_t sig = base + sign * off;
    if (off > SIGRTMAX - SIGRTMIN || sig < SIGRTMIN || sig > SIGRTMAX)
      return bad("out of the real-time range (RTMIN+0 to RTMIN+" +
                 std::to_string(SIGRTMAX - SIGRTMIN) + ")");
    return static_cast<int>(sig);
  };
  if (name.rfind("RTMIN", 0) == 0) return realtime("RTMIN", SIGRTMIN, +1);
  if (name.rfind("RTMAX", 0) == 0) return realtime("RTMAX", SIGRTMAX, -1);
  return bad("not a signal (examples: TERM, SIGKILL, 9, RTMIN+1)");
}

std::string signal_name(int sig) {
  for (const auto& e : kSignals)
    if (e.number == sig) return std::string("SIG") + e.name;
  return "SIG" + std::to_string(sig);
}

std::string format_duration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms < 0) return "-" + format_duration(std::chrono::milliseconds(-ms));
  if (ms == 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms >= 60'000) return std::to_string(ms / 60'000) + "m";
  std::string out = std::to_string(ms / 1000);
  if (int64_t rest = ms % 1000; rest != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(rest));
    std::string f(buf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "s";
}

Expected<uint64_t> parse_size(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error::with_detail(
        "size", "'" + std::string(text) + "': " + why + " (examples: 65536, 64K, 512M, 2G)");
  };
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return bad("expected a number of bytes");
  int64_t value = 0;
  if (!parse_uint(text.substr(0, digits), value)) return bad("too large");
  std::string unit = upper(text.substr(digits));
  int shift = -1;
  if (unit.empty() || unit == "B") shift = 0;
  if (unit == "K" || unit == "KB" || unit == "KIB") shift = 10;
  if (unit == "M" || unit == "MB" || unit == "MIB") shift = 20;
  if (unit == "G" || unit == "GB" || unit == "GIB") shift = 30;
  if (unit == "T" || unit == "TB" || unit == "TIB") shift = 40;
  if (shift < 0) return bad("unknown unit '" + std::string(text.substr(digits)) + "'");
  auto v = static_cast<uint64_t>(value);
  if (v > (UINT64_MAX >> shift)) return bad("too large");
  return v << shift;
}

Expected<uint64_t> parse_count(std::string_view text) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n == 0)
    return Error::with_detail("count",
                              "'" + std::string(text) + "': expected a whole number, 1 or more");
  return n;
}

Expected<double> parse_cpus(std::string_view text) {
  double n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(n) ||
      !(n > 0))
    return Error::with_detail(
        "cpus", "'" + std::string(text) + "': expected a number of CPUs, e.g. 0.5 or 2");
  return n;
}

std::string format_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = static_cast<double>(bytes);
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0 || v == static_cast<double>(static_cast<uint64_t>(v)))
    std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

ExitNow usage_error(std::string_view program, std::string_view sentence) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(sentence.size()), sentence.data());
  return ExitNow{125};
}

}  // namespace tend
