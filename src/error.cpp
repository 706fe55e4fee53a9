#include "tend/error.hpp"

#include <cstring>

namespace tend {

const char* to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::system:
      return "system";
    case ErrorKind::usage:
      return "usage";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::permission:
      return "permission";
    case ErrorKind::exec:
      return "exec";
    case ErrorKind::io:
      return "io";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::bad_data:
      return "bad_data";
    case ErrorKind::untrusted:
      return "untrusted";
  }
  return "system";
}

ErrorKind kind_of_errno(int code) {
  switch (code) {
    case ENOENT:
    case ENOTDIR:
    case ESRCH:
      return ErrorKind::not_found;
    case EACCES:
    case EPERM:
    case EROFS:
      return ErrorKind::permission;
    case EIO:
    case ENOSPC:
    case EDQUOT:
    case EPIPE:
      return ErrorKind::io;
    case ENOSYS:
    case EOPNOTSUPP:
      return ErrorKind::unsupported;
    default:
      return ErrorKind::system;
  }
}

std::string errno_text(int code) {
  // strerror_r's GNU form may return a static string instead of filling the buffer.
  char buf[128];
  return ::strerror_r(code, buf, sizeof buf);
}

std::string Error::message() const {
  std::string out = stage;
  if (!path.empty()) {
    out += ' ';
    out += path;
  }
  if (code != 0) {
    out += ": ";
    out += errno_text(code);
  }
  if (!detail.empty()) {
    out += code != 0 ? " (" : ": ";
    out += detail;
    if (code != 0) out += ')';
  }
  return out;
}

}  // namespace tend
