#include "tend/error.hpp"

#include <cstring>

namespace tend {

std::string Error::message() const {
  std::string out = stage;
  if (!path.empty()) {
    out += ' ';
    out += path;
  }
  if (code != 0) {
    out += ": ";
    // strerror_r's GNU form may return a static string instead of filling the buffer.
    char buf[128];
    out += ::strerror_r(code, buf, sizeof buf);
  }
  if (!detail.empty()) {
    out += code != 0 ? " (" : ": ";
    out += detail;
    if (code != 0) out += ')';
  }
  return out;
}

}  // namespace tend
