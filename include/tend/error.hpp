// Errors as values: every failure names the stage that failed, the errno, and the path involved.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace tend {

// What went wrong, where. `stage` is a short verb-ish name ("execve", "mkdir cgroup", "clone3"),
// `code` an errno value (0 when the failure is not a system error), `path` the file involved if
// any.
struct Error {
  std::string stage;
  int code = 0;
  std::string path;
  std::string detail;  // free text for failures that are not an errno

  // One line for a human: "execve ./job.sh: Permission denied".
  std::string message() const;

  static Error from_errno(std::string stage, std::string path = {}) {
    return Error{std::move(stage), errno, std::move(path), {}};
  }
  static Error with_detail(std::string stage, std::string detail) {
    return Error{std::move(stage), 0, {}, std::move(detail)};
  }
};

// A value or an Error. A tiny stand-in for C++23 std::expected (g++ 12 in C++20 mode lacks it).
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Expected(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace tend
