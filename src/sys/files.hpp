// Small, EINTR-safe file helpers for procfs and cgroupfs. Every fd is O_CLOEXEC.
#pragma once

#include <string>
#include <string_view>

#include "tend/error.hpp"
#include "tend/fd.hpp"

namespace tend::sys {

Expected<UniqueFd> open_file(const std::string& path, int flags, mode_t mode = 0);
Expected<UniqueFd> open_at(int dirfd, const char* name, int flags, mode_t mode = 0);
// Reads the whole file (procfs and cgroupfs files are small and report size 0).
Expected<std::string> read_file(const std::string& path);
Expected<std::string> read_fd(int fd);  // from offset 0 (pread)
// Writes `data` in one write(2), as cgroupfs wants.
Expected<void> write_file(const std::string& path, std::string_view data);
Expected<void> write_fd(int fd, std::string_view data, const char* stage);

// The target of the symbolic link `path` (readlink(2), however long it is).
Expected<std::string> read_link(const std::string& path);

ssize_t read_retry(int fd, void* buf, size_t len);
ssize_t write_retry(int fd, const void* buf, size_t len);

}  // namespace tend::sys
