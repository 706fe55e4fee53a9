#include "shim/files.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "tend/fd.hpp"

namespace tend::agent {

namespace {

// libtend's write_all, with the file's path in the error.
Expected<void> write_all(int fd, const std::string& data, const std::string& path) {
  auto r = tend::write_all(fd, data);
  if (r) return r;
  Error e = r.error();
  e.path = path;
  return e;
}

}  // namespace

Expected<void> write_file(const std::string& path, const std::string& data, int mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Error::from_errno("open", path);
  return write_all(fd.get(), data, path);
}

Expected<void> write_file_synced(const std::string& path, const std::string& data, int mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return Error::from_errno("open", path);
  if (auto r = write_all(fd.get(), data, path); !r) return r;
  if (::fsync(fd.get()) != 0) return Error::from_errno("fsync", path);
  return {};
}

Expected<void> write_file_atomic(const std::string& path, const std::string& data, int mode) {
  std::string tmp = path + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return Error::from_errno("open", tmp);
    if (auto r = write_all(fd.get(), data, tmp); !r) return r;
    if (::fsync(fd.get()) != 0) return Error::from_errno("fsync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename", path);
  std::string dir = dir_of(path);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return Error::from_errno("open", dir);
  if (::fsync(dfd.get()) != 0) return Error::from_errno("fsync", dir);
  return {};
}

Expected<void> replace_file(const std::string& path, const std::string& data, int mode) {
  std::string tmp = path + ".tmp";
  if (auto r = write_file(tmp, data, mode); !r) return r;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename", path);
  return {};
}

Expected<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open", path);
  return read_fd(fd.get(), path);
}

Expected<std::string> read_fd(int fd, const std::string& name) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("read", name);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Expected<UniqueFd> sealed_memory_file(const char* name, const std::string& data) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return Error::from_errno("memfd_create", name);
  if (auto r = write_all(fd.get(), data, name); !r) return r.error();
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return Error::from_errno("lseek", name);
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
    return Error::from_errno("fcntl(F_ADD_SEALS)", name);
  return fd;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace tend::agent
