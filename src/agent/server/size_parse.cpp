#include "server/size_parse.hpp"

#include <cctype>

namespace tend::agent {

std::optional<uint64_t> parse_size(std::string_view t) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
    if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(t[i++] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = t.substr(i);
  int shift = 0;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "K" || unit == "KiB" || unit == "k")
    shift = 10;
  else if (unit == "M" || unit == "MiB")
    shift = 20;
  else if (unit == "G" || unit == "GiB")
    shift = 30;
  else
    return std::nullopt;
  if (shift && v > (UINT64_MAX >> shift)) return std::nullopt;
  return v << shift;
}

}  // namespace tend::agent
