#include "http/auth.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>

#include "tend/fd.hpp"

namespace tend::http {

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();  // the kernel's CSPRNG failing leaves no safe way to make a secret
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

namespace {

// The whole of a small file (at most 4 KiB: a secret, not a document).
Expected<std::string> read_small(const char* stage, const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(stage, path);
  std::string t;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(stage, path);
    if (n == 0) break;
    t.append(buf, static_cast<size_t>(n));
    if (t.size() > 4096) return Error{stage, 0, path, "the file is larger than 4 KiB"};
  }
  return t;
}

}  // namespace

Expected<std::string> read_token(const std::string& path) {
  auto t = read_small("read token", path);
  if (!t) return t.error();
  auto first = t->find_first_not_of(" \t\r\n");
  auto last = t->find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return Error{"read token", 0, path, "the token file is empty"};
  return t->substr(first, last - first + 1);
}

Expected<std::string> read_secret(const std::string& path) {
  auto t = read_small("read password", path);
  if (!t) return t.error();
  if (!t->empty() && t->back() == '\n') t->pop_back();
  if (!t->empty() && t->back() == '\r') t->pop_back();
  if (t->empty()) return Error{"read password", 0, path, "the file is empty"};
  if (t->find('\n') != std::string::npos)
    return Error{"read password", 0, path, "more than one line"};
  return *t;
}

Expected<std::string> create_token(const std::string& path) {
  std::string token = random_hex(32);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno("create token", path);
  std::string line = token + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return Error::from_errno("write token", path);
  if (::fsync(fd.get()) != 0) return Error::from_errno("fsync", path);
  return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length is no secret (tokens are 64 hex digits); the content is compared in full.
  if (a.size() != b.size() || b.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::optional<std::string_view> bearer_credentials(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || authorization[kScheme.size()] != ' ')
    return std::nullopt;
  std::string_view scheme = authorization.substr(0, kScheme.size());
  for (size_t i = 0; i < scheme.size(); ++i) {
    char c = scheme[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view rest = authorization.substr(kScheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return rest;
}

}  // namespace tend::http
