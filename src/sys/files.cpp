#include "sys/files.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace tend::sys {

Expected<UniqueFd> open_file(const std::string& path, int flags, mode_t mode) {
  int fd;
  do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return Error::from_errno("open", path);
  return UniqueFd(fd);
}

Expected<UniqueFd> open_at(int dirfd, const char* name, int flags, mode_t mode) {
  int fd;
  do fd = ::openat(dirfd, name, flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return Error::from_errno("open", name);
  return UniqueFd(fd);
}

Expected<std::string> read_fd(int fd) {
  std::string out;
  char buf[4096];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

Expected<std::string> read_file(const std::string& path) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fd.error();
  auto s = read_fd(fd->get());
  if (!s) return Error::from_errno("read", path);
  return s;
}

Expected<void> write_fd(int fd, std::string_view data, const char* stage) {
  ssize_t n = write_retry(fd, data.data(), data.size());
  if (n < 0) return Error::from_errno(stage);
  if (static_cast<size_t>(n) != data.size()) return Error::with_detail(stage, "short write");
  return {};
}

Expected<void> write_file(const std::string& path, std::string_view data) {
  auto fd = open_file(path, O_WRONLY);
  if (!fd) return fd.error();
  auto r = write_fd(fd->get(), data, "write");
  if (!r) return Error{"write", r.error().code, path, r.error().detail};
  return {};
}

Expected<std::string> read_link(const std::string& path) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) {
      const int code = errno;
      return Error{"readlink", code, path, {}};
    }
    // A result that fills the buffer may have been cut: try again with more room.
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

ssize_t read_retry(int fd, void* buf, size_t len) {
  ssize_t n;
  do n = ::read(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

ssize_t write_retry(int fd, const void* buf, size_t len) {
  ssize_t n;
  do n = ::write(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace tend::sys
