// Errors as values: every failure has a kind (what sort of failure, for decisions), the stage that
// failed, the errno, and the path involved (for people).
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tend {

// What sort of failure an Error is. Code decides on this (exit status, HTTP status), never on the
// text of `stage`.
enum class ErrorKind {
  system,       // a system call failed for a reason not below
  usage,        // bad input from the caller: a flag, a request field (CLI 125, HTTP 400)
  not_found,    // a file, user, group or process that does not exist
  permission,   // EACCES / EPERM
  exec,         // the command could not be executed; `code` tells 127 (ENOENT, ENOTDIR) from 126
  io,           // reading or writing data failed (EIO, ENOSPC, EPIPE, short writes)
  unsupported,  // the kernel or a seccomp filter lacks what was asked (ENOSYS, EOPNOTSUPP)
  bad_data,     // a stored or received document is malformed
  untrusted,    // a peer's TLS certificate failed verification (unknown CA, wrong name, expired)
};
const char* to_string(ErrorKind);
// The kind a bare errno suggests, for errors made from system calls.
ErrorKind kind_of_errno(int code);

// strerror, thread-safe (strerror_r), as a string.
std::string errno_text(int code);

// What went wrong, where. `stage` is a short verb-ish name ("execve", "mkdir cgroup", "clone3"),
// `code` an errno value (0 when the failure is not a system error), `path` the file involved if
// any.
struct Error {
  std::string stage;
  int code = 0;
  std::string path;
  std::string detail;  // free text for failures that are not an errno
  ErrorKind kind = ErrorKind::system;

  // Whether running the command failed because it is missing (127) rather than not runnable.
  bool command_not_found() const {
    return kind == ErrorKind::exec && (code == ENOENT || code == ENOTDIR);
  }

  // One line for a human: "execve ./job.sh: Permission denied".
  std::string message() const;

  // From the errno of the call that just failed. The arguments are views, so nothing is
  // allocated (malloc may change errno) before errno is read; the strings are built after.
  static Error from_errno(std::string_view stage, std::string_view path = {}) {
    const int code = errno;
    return of_errno(code, std::string(stage), std::string(path));
  }
  static Error of_errno(int code, std::string stage, std::string path = {}) {
    return Error{std::move(stage), code, std::move(path), {}, kind_of_errno(code)};
  }
  static Error with_detail(std::string stage, std::string detail,
                           ErrorKind kind = ErrorKind::system) {
    return Error{std::move(stage), 0, {}, std::move(detail), kind};
  }
  // Bad input: `sentence` is what the user reads.
  static Error usage(std::string sentence) {
    return Error{"usage", 0, {}, std::move(sentence), ErrorKind::usage};
  }
};

// A value or an error of type E. A tiny stand-in for C++23 std::expected (g++ 12 in C++20 mode
// lacks it). Layers with errors of their own (etcd's kinds) use it with their E.
template <class T, class E>
class [[nodiscard]] BasicExpected {
 public:
  BasicExpected(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  BasicExpected(E error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] BasicExpected<void, E> {
 public:
  BasicExpected() = default;
  BasicExpected(E error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { return error_; }

 private:
  E error_;
  bool ok_ = true;
};

// A value (or nothing, for void) or a tend::Error.
template <class T>
using Expected = BasicExpected<T, Error>;

}  // namespace tend
