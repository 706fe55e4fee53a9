#include "token.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>

#include "files.hpp"
#include "tend/fd.hpp"

namespace tend::agent {

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

Expected<std::string> read_token(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  std::string t = *text;
  auto first = t.find_first_not_of(" \t\r\n");
  auto last = t.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return Error{"read token", 0, path, "the token file is empty"};
  return t.substr(first, last - first + 1);
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

}  // namespace tend::agent
